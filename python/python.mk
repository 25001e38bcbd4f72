# python/python.mk - the pip-installable Python package (included by the Makefile).
