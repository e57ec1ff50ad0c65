"""Shipshape's embedded runtime: the SAM stack on moto in one process (never deployed)."""
