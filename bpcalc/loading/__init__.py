"""Loading: from a graph file (or a bundled example, or stdin) to a checked ``Graph``.

The stage a graph travels through first: ``find`` resolves the GRAPH argument and reads its
text, ``parse`` turns YAML or JSON into plain data that remembers every line and column,
``schema`` checks that data and ``expressions`` turns ``relu(x @ W + b)`` into nodes,
``literals`` and ``inputs`` read numbers and input values, and ``build`` resolves names, orders
the nodes and produces the ``Graph``. ``rows`` reads the row files of ``--batch``.
Nothing here evaluates anything.
"""
