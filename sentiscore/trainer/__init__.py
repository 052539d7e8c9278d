"""Fine-tuning stage: HF Trainer runs with metrics, plots and a model card (needs the train extra)."""
