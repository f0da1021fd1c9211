"""BatchNorm while fine-tuning: ``fine_tune_batchnorm="frozen"`` against ``"train"`` on a transfer task built offline.

Pretrains one small ResNet on the bundled MNIST digits 0-4 (all their training images), then, for every
seed, draws ``--shots`` training images per class of digits 5-9 and fine-tunes the pretrained model on them
with ``train(weights=pretrained.keras, freeze_epochs=..., fine_tune_batchnorm=...)``, once per setting (same
pretrained model, same images, same seed) at each ``--fine-tune-rates`` value (the default 0.1x of the head's
rate, and 1x), and once from scratch as the baseline. Every model is tested on all held-out test images of
digits 5-9. Reports test accuracy per seed, mean and standard deviation per setting, and the per-seed
difference frozen - train (mean and standard deviation); "better" names a setting only when the mean
difference exceeds the larger of the two settings' standard deviations, at every rate.

Prints one JSON object (``--json-out FILE`` also writes it). About 8 minutes on 2 CPU cores.
Run: python benchmarks/fine_tune_batchnorm.py [--quick] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

PRETRAIN_CLASSES, TRANSFER_CLASSES = range(0, 5), range(5, 10)
SETTINGS = ("frozen", "train")


def digits_subset(source, classes, per_class=None, seed=0):
    """The images of ``classes`` (relabelled 0..n-1): all, or ``per_class`` drawn at random per class."""
    from keras_resnet.data import LabeledImages

    rng = np.random.default_rng(seed)
    chosen = []
    for label in classes:
        members = np.flatnonzero(source.labels == label)
        chosen.append(members if per_class is None else rng.choice(members, per_class, replace=False))
    index = np.concatenate(chosen)
    relabelled = np.searchsorted(np.asarray(list(classes)), source.labels[index]).astype(np.int32)
    return LabeledImages(source.images[index], relabelled)


def task(digits, classes, per_class=None, seed=0):
    """A DatasetSplits of ``classes``: training images (all, or ``per_class`` each) and every test image."""
    from keras_resnet.data import DatasetSplits

    return DatasetSplits([str(label) for label in classes], train=digits_subset(digits.train, classes, per_class, seed),
                         test=digits_subset(digits.test, classes), source=f"bundled digits {classes[0]}-{classes[-1]}")


def summary(values):
    return {"mean": round(statistics.mean(values), 4),
            "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
            "min": round(min(values), 4), "max": round(max(values), 4)}


def compare(accuracy):
    """Both settings' test accuracies summarised, their per-seed difference, and the better setting when the mean
    difference exceeds the larger of their standard deviations."""
    differences = [round(a - b, 4) for a, b in zip(accuracy["frozen"], accuracy["train"])]
    gap, spread = summary(differences), max(summary(accuracy[setting])["std"] for setting in SETTINGS)
    better = ("frozen" if gap["mean"] > 0 else "train") if abs(gap["mean"]) > spread else "within the spread"
    return {**{setting: {"per_seed": accuracy[setting], **summary(accuracy[setting])} for setting in SETTINGS},
            "frozen_minus_train": {"per_seed": differences, **gap}, "better": better}


def run(args):
    from keras_resnet.data import load_dataset
    from keras_resnet.training import train

    common = dict(model=args.model, precision="float32", tensorboard=False, verbose=0)
    digits = load_dataset("bundled", validation_split=0)
    with tempfile.TemporaryDirectory() as folder:
        started = time.time()
        pretrained = train(splits=task(digits, PRETRAIN_CLASSES), data="bundled digits 0-4", batch_size=64,
                           epochs=args.pretrain_epochs, run_dir=os.path.join(folder, "pretrain"), **common)
        pretrain = {"epochs": args.pretrain_epochs, "batch_size": 64, "optimizer": "sgd (default)",
                    "train_images": pretrained.metrics["train_images"],
                    "test_accuracy": round(pretrained.metrics["test_accuracy"], 4),
                    "seconds": round(time.time() - started, 1)}
        print(json.dumps({"pretrain": pretrain}), file=sys.stderr, flush=True)
        fine_tune = dict(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
                         learning_rate=args.learning_rate, **common)
        accuracy = {rate: {setting: [] for setting in SETTINGS} for rate in args.fine_tune_rates}
        scratch = []
        for seed in range(args.seeds):
            splits = task(digits, TRANSFER_CLASSES, args.shots, seed)
            for rate in args.fine_tune_rates:
                for setting in SETTINGS:
                    result = train(splits=splits, data="bundled digits 5-9", weights=pretrained.model_path,
                                   freeze_epochs=args.freeze_epochs, fine_tune_learning_rate=rate,
                                   fine_tune_batchnorm=setting, seed=seed,
                                   run_dir=os.path.join(folder, f"{setting}-{rate}-{seed}"), **fine_tune)
                    accuracy[rate][setting].append(round(result.metrics["test_accuracy"], 4))
            baseline = train(splits=splits, data="bundled digits 5-9", seed=seed,
                             run_dir=os.path.join(folder, f"scratch-{seed}"), **fine_tune)
            scratch.append(round(baseline.metrics["test_accuracy"], 4))
            print(json.dumps({"seed": seed, **{f"{setting} {rate}": values[setting][-1] for rate, values in
                                               accuracy.items() for setting in SETTINGS}, "scratch": scratch[-1]}),
                  file=sys.stderr, flush=True)
    by_rate = {f"fine_tune_learning_rate {rate}": compare(values) for rate, values in accuracy.items()}
    verdicts = {result["better"] for result in by_rate.values()}
    return {
        "task": {"pretrain": "bundled MNIST digits 0-4, every training image", "fine_tune":
                 f"digits 5-9, {args.shots} training images per class drawn per seed", "test":
                 "every held-out test image of digits 5-9", "model": args.model},
        "settings": {"freeze_epochs": args.freeze_epochs, "epochs": args.epochs, "batch_size": args.batch_size,
                     "optimizer": args.optimizer, "learning_rate": args.learning_rate,
                     "fine_tune_learning_rates": args.fine_tune_rates, "schedule": "step (default)",
                     "seeds": args.seeds, "precision": "float32"},
        "pretrain": pretrain,
        "test_accuracy": {**by_rate, "scratch": {"per_seed": scratch, **summary(scratch)}},
        "better": verdicts.pop() if len(verdicts) == 1 else "within the spread",
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet8", help="zoo model (default resnet8)")
    parser.add_argument("--seeds", type=int, default=5, help="fine-tuning subsets and seeds (default 5)")
    parser.add_argument("--shots", type=int, default=10, help="training images per class of digits 5-9 (default 10)")
    parser.add_argument("--pretrain-epochs", type=int, default=4, help="epochs on digits 0-4 (default 4)")
    parser.add_argument("--freeze-epochs", type=int, default=10, help="head-only epochs (default 10)")
    parser.add_argument("--epochs", type=int, default=30, help="fine-tuning epochs in all, frozen ones included")
    parser.add_argument("--batch-size", type=int, default=16, help="fine-tuning batch (default 16)")
    parser.add_argument("--optimizer", default="adamw", help="fine-tuning optimizer (default adamw)")
    parser.add_argument("--learning-rate", type=float, default=0.04,
                        help="for a global batch of 128, so 0.005 at batch 16 (default 0.04)")
    parser.add_argument("--fine-tune-rates", type=lambda text: text.split(","), default=["0.1x", "1x"],
                        help="fine_tune_learning_rate values to compare at, comma-separated (default 0.1x,1x)")
    parser.add_argument("--quick", action="store_true", help="3 seeds, 2 pretraining epochs, 16 epochs (5 frozen)")
    parser.add_argument("--json-out", help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.pretrain_epochs, args.epochs, args.freeze_epochs = 3, 2, 16, 5
    import keras
    import tensorflow as tf

    from keras_resnet.files import write_json
    from keras_resnet.training.precision import speed_flags

    started = time.time()
    report = run(args)
    flags = speed_flags()
    report.update({"seconds": round(time.time() - started, 1), "cpu_count": os.cpu_count(), "cpu_flags": flags,
                   "load_average": os.getloadavg(), "tensorflow": tf.__version__, "keras": keras.__version__,
                   "python": platform.python_version()})
    print(json.dumps(report, indent=2))
    if args.json_out:
        write_json(args.json_out, report)


if __name__ == "__main__":
    main()
