"""Broken: the file raises while it is imported (a misspelt name imported from a sibling module)."""
from linear import Softmx  # expected


class Net(Softmx):
    pass
