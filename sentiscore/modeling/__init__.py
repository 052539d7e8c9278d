"""What the trainer and the export stage both need about a classifier: its read-out ([CLS]
or mean pooling), the mean-pooled model class, and loading it. Stages import this package,
never each other."""

# The training metadata file in a trained model directory: written by ``trainer.report``, read
# by ``export.run`` (tokenisation policy, metrics).
TRAIN_META = "sentiscore_train.json"
