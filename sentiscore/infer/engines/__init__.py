"""Scale-out adapters: Ray Data (``ray.score_dataset``) and Spark (``spark.score_dataframe``).

Both call ``Scorer.score_batch`` on Arrow batches; neither has model logic of its own.
"""
