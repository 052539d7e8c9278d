"""What the trainer and the export stage both need about a classifier: its read-out ([CLS]
or mean pooling), the mean-pooled model class, and loading it. Stages import this package,
never each other."""

# The training metadata file in a trained model directory: written by ``trainer.report``, read
# by ``export.run`` (tokenisation policy, metrics).
TRAIN_META = "sentiscore_train.json"
# A training run's held-out rows with their gold labels and predictions (run directory, beside
# model/): written by ``trainer.report``; ``export.run`` gates a run's export on them.
PREDICTIONS = "predictions.parquet"
