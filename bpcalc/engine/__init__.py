"""The engine: a checked graph evaluated forward, then backward, with the op table's layers.

``plan`` compiles a graph to slots and runs it fast; ``reference`` is the same reverse mode
written as plainly as the book writes it, and the tests prove the two agree.
"""
