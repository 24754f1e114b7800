"""Services shared by the interfaces (CLI and API): search, query models, citations. They import the kernel only."""
