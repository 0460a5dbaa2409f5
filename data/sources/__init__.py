"""One module per landing-zone source family; each exposes functions that write records of a session chunk."""
