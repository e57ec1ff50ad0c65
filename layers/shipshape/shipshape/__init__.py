"""Shipshape: the execution layer for agency e-commerce fulfillment.

This package is the domain every Lambda function imports through the shared layer. It knows
no AWS event shapes; adapters under ``shipshape.adapters`` translate to and from AWS.
"""
