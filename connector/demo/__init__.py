"""`connector demo`: the whole loop against the sandbox vendors. `org.py` makes the
organisation (data only), `sandboxes.py` starts and seeds each configured vendor's sandbox,
`checks.py` sums up and checks the vendors' end state, `run.py` runs the loop."""
