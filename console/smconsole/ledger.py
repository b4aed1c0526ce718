"""The request ledger (SQLite, WAL): every submitted async request, written before its invoke."""
