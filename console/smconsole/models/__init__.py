"""Plain frozen dataclasses that cross the service/UI boundary, one module per concern."""
