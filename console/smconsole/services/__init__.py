"""Services: one module per AWS concern; plain dataclasses out, named errors."""
