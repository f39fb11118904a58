"""What a person does to the running connector, one module per family of decisions.

Each operation is a plain function over the store (and the runtime when it reads a vendor):
keyword arguments in, a small frozen result out, and the acting person as `by`, which the
audit row records. The CLI prints the result; the console will render the same result. An
operation never prints and never parses arguments.

Every operation that changes something is atomic (the decision, its audit row and the work
it queues commit in one `store.transaction()`) and safe to repeat: a second submit changes
nothing, queues nothing, audits nothing, and says so in its result (`changed=False`).
"""
