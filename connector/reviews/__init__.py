"""Reviews read from the files HR tools export: a review source beside the polled vendors.

`file.read_reviews` is the entry point; it streams a `ReviewFile`. Each format has its module
(`csv_long`, `csv_wide`, `json_file`); `csv_file` reads what the two CSV layouts share (the
header, the delimiter, the choice of layout); `rows` reads the review-level cells and values of
one row; `report` holds what a read found (rejected rows, ignored columns).
"""
