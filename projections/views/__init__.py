"""The read models, one module per model: its tables, its handlers and its queries.

What a model declares is described in `model.py`; the models are listed, in the order their handlers
run, in the one table `READ_MODELS` of `projections/runner.py`.
"""
