"""The ``keras-resnet`` command line: thin click wrappers over the Python API.

This file installs as ``keras_resnet/cli.py`` and ``export/`` as ``keras_resnet/export/``
(see setup.py), so ``from .export import ...`` names the same files in the source tree
and in the installed package; the model, data and training layers import as ``keras_resnet.*``.
"""

import functools
import json
import os
import sys

import click

from keras_resnet.data import sources_help

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the CLI


def _friendly_errors(function):
    """Print our one-line user errors and exit 1, without a traceback."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        from keras_resnet.errors import KerasResnetError

        try:
            return function(*args, **kwargs)
        except KerasResnetError as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted: files already finished are complete; rerun the same command to resume"
                       " (train, experiment) or to start again.", err=True)
            sys.exit(130)

    return wrapper


class _UsageMistake(click.ClickException):
    exit_code = 1


class _OneLineUsage:
    """Usage mistakes (a bad type, a missing argument, an unknown command) as one line and exit 1, like every
    other mistake a user can make, instead of click's usage block and exit 2."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as error:
            command = f"{parent.command_path} {info_name}" if parent else info_name
            raise _UsageMistake(f"{error.format_message()} ({command} --help lists the options)") from None


class _CheckedCommand(_OneLineUsage, click.Command):
    pass


class _Commands(_OneLineUsage, click.Group):
    """The keras-resnet group: its commands, and those of nested groups (experiment), are checked alike."""

    command_class = _CheckedCommand
    group_class = type  # nested groups are of this same class

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as error:
            raise _UsageMistake(f"{error.format_message()} (keras-resnet --help lists the commands)") from None


@click.group(cls=_Commands)
@click.version_option(package_name="keras3-resnet")
def main():
    """Every ResNet of the residual-learning papers: build, train, export, evaluate."""


@main.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--name", "names", multiple=True, help="Only these models (repeatable). Default: all.")
@_friendly_errors
def models_command(as_json, names):
    """List the model zoo: parameters, FLOPs (multiply-adds), depth, version."""
    from keras_resnet.summary import format_table, zoo_table

    rows = zoo_table(names or None)
    click.echo(json.dumps(rows, indent=2) if as_json else format_table(rows))


def _train_options(function):
    """The `train` flags; each left out (None) keeps the config file's value or the default."""
    choice = lambda *values: click.Choice(values, case_sensitive=False)  # noqa: E731
    flags = [
        ("--config", dict(type=click.Path(dir_okay=False), help="YAML or JSON file with any of these options.")),
        ("--model", dict(help="Zoo name (keras-resnet models) or resnetN/plainN for any CIFAR depth. [resnet20]")),
        ("--model-option", dict(multiple=True, metavar="KEY=VALUE",
                                help="Model keyword, repeatable: stochastic_depth=0.1, zero_init_residual=true.")),
        ("--weights", dict(help="Start from pretrained weights, with a new head for your classes: imagenet "
                                "(resnet50/101/152, V2), timm:NAME or hf-hub:ORG/NAME (timm/torchvision ResNets from "
                                "the Hugging Face hub, e.g. timm:resnet50.a1_in1k with --model resnet50) or PATH "
                                "(.keras, e.g. a run's model.keras; .weights.h5; keras.applications .h5; PyTorch "
                                ".safetensors/.pth/.bin). [none]")),
        ("--freeze-epochs", dict(type=int, help="With --weights: train only the new head for N epochs (backbone "
                                                "and its BatchNorm frozen), then everything. [0]")),
        ("--fine-tune-batchnorm", dict(type=choice("train", "frozen"),
                                       help="With --weights, while fine-tuning: train the backbone's BatchNorm, or "
                                            "keep it frozen (inference mode, as Keras' guide). [train]")),
        (("--fine-tune-lr", "--fine-tune-learning-rate", "fine_tune_learning_rate"),
         dict(metavar="RATE|FACTORx", help="Learning rate after --freeze-epochs, like --learning-rate (for a global "
                                           "batch of 128), or a factor of it: 0.1x. [0.1x]")),
        ("--data", dict(help=f"{sources_help()}. [bundled]")),
        ("--image-size", dict(help="Resize images to N or HxW. [keep]")),
        ("--channels", dict(type=click.IntRange(1, 3), help="1 or 3. [keep]")),
        ("--validation-split", dict(type=float, help="Fraction of train held out, stratified. [0.1]")),
        ("--on-bad-image", dict(type=choice("skip", "error"), help="Unreadable images: skip (counted) or error.")),
        ("--data-dir", dict(help="TFDS data folder.")),
        ("--label-offset", dict(type=int, help="Subtracted from TFRecord labels: 1 for ImageNet-layout TFRecords "
                                               "(labels 1..1000). [0]")),
        ("--stream", dict(type=choice("auto", "true", "false"),
                          help="Read folders/TFRecords from disk while training instead of loading them; auto: "
                               "when their decoded size would not fit in free memory. [auto]")),
        ("--augment", dict(type=choice("auto", "none", "crop", "cifar", "imagenet"), help="[auto]")),
        ("--epochs", dict(type=int, help="[10]")),
        ("--steps-per-epoch", dict(type=int, help="Cap on training steps per epoch. [all]")),
        ("--batch-size", dict(type=int, help="Per replica; global = this x replicas. [128]")),
        ("--optimizer", dict(type=choice("sgd", "adamw"), help="[sgd]")),
        ("--learning-rate", dict(type=float, help="For a global batch of 128, scaled linearly to the real "
                                                  "global batch. [0.1 sgd, 0.001 adamw]")),
        ("--momentum", dict(type=float, help="[0.9]")),
        ("--nesterov/--no-nesterov", dict(default=None)),
        ("--weight-decay", dict(type=float, help="Kernels only, never BN/bias. sgd: L2 [1e-4]; adamw: "
                                                 "decoupled [0.05].")),
        ("--label-smoothing", dict(type=float, help="[0]")),
        ("--schedule", dict(type=choice("step", "cosine", "constant"),
                            help="step: /10 at 50% and 75% of training. [step]")),
        ("--warmup-epochs", dict(type=float, help="Linear warm-up. [0]")),
        ("--ema/--no-ema", dict(default=None, help="Average the weights (EMA); the average is the final model.")),
        ("--ema-momentum", dict(type=float, help="[0.999]")),
        ("--sync-batchnorm/--no-sync-batchnorm", dict(default=None, help="BN statistics over the global batch.")),
        ("--seed", dict(type=int, help="[0]")),
        ("--strategy", dict(type=choice("auto", "default", "mirrored", "multi_worker", "tpu"), help="[auto]")),
        ("--precision", dict(type=choice("auto", "float32", "mixed_float16", "mixed_bfloat16"), help="[auto]")),
        ("--jit-compile", dict(type=choice("auto", "on", "off"), help="XLA. [auto: GPU, one device]")),
        ("--run-dir", dict(help="Output folder; rerun with the same one to resume. [runs/MODEL-TIME]")),
        ("--checkpoint-steps", dict(type=int, help="Also checkpoint every N steps. [epoch ends only]")),
        ("--tensorboard/--no-tensorboard", dict(default=None)),
        ("--verbose", dict(type=choice("auto", "0", "1", "2"), help="Keras progress output. [auto]")),
    ]
    for flag, settings in reversed(flags):
        function = click.option(*(flag if isinstance(flag, tuple) else (flag,)), **settings)(function)
    return function


@main.command("train")
@_train_options
@_friendly_errors
def train_command(config, model_option, image_size, verbose, **options):
    """Train a ResNet with model.fit (tf.distribute, mixed precision); resumable with --run-dir."""
    import yaml

    from keras_resnet.errors import KerasResnetError
    from keras_resnet.training import train

    overrides = {key: value for key, value in options.items() if value is not None}
    if model_option:
        pairs = [item.partition("=") for item in model_option]
        if any(not key or not sep for key, sep, _ in pairs):
            raise KerasResnetError("--model-option takes KEY=VALUE, e.g. --model-option stochastic_depth=0.1")
        overrides["model_options"] = {key.strip(): yaml.safe_load(value) for key, _, value in pairs}
    if image_size is not None:
        sizes = image_size.lower().split("x")
        if not all(size.strip().isdigit() for size in sizes) or len(sizes) > 2:
            raise KerasResnetError(f"--image-size {image_size!r} must be N or HxW, e.g. 32 or 224x224")
        overrides["image_size"] = int(sizes[0]) if len(sizes) == 1 else [int(size) for size in sizes]
    if verbose is not None:
        overrides["verbose"] = verbose if verbose == "auto" else int(verbose)
    result = train(config, **overrides)
    summary = {"run_dir": result.run_dir, "model": result.model_path,
               **{k: v for k, v in result.metrics.items() if k.startswith(("test_", "final_val_"))}}
    click.echo(json.dumps(summary))


def _kib(size):
    return "-" if size is None else f"{size / 1024:,.0f} KiB"


def _raise_if_gate_failed(report):
    from keras_resnet.errors import KerasResnetError

    result = (report or {}).get("gate")
    if result and not result["passed"]:
        lost = ", ".join(f"{item['name']} {item['top1_drop_points']:+.2f}" for item in result["failures"])
        raise KerasResnetError(
            f"release gate failed: top-1 drop over {result['max_drop_points']} points vs {report['reference']} "
            f"({lost}): improve calibration, use another mode, or raise --max-drop")


def _data_options(function):
    """--data-dir, --label-offset and --stream: how export and evaluate read their data."""
    flags = [
        click.option("--data-dir", default=None, help="TFDS data folder (default: the run's)."),
        click.option("--label-offset", type=int, default=None,
                     help="Subtracted from TFRecord labels: 1 for ImageNet TFRecords (labels 1..1000). "
                          "[the run's, else 0]"),
        click.option("--stream/--no-stream", default=None,
                     help="Read folders and TFRecords from disk, decoding only the images used, or load them into "
                          "memory. [stream, except TFRecords whose bad images are skipped]"),
    ]
    return functools.reduce(lambda f, flag: flag(f), reversed(flags), function)


@main.command("export")
@click.argument("source", type=click.Path())
@click.option("--out", "out_dir", default="artifacts", show_default=True, type=click.Path(),
              help="Folder for the artifacts, labels.txt, export.json and the report; export.json owns it (files an "
                   "earlier export left there are removed).")
@click.option("--formats", default="all", show_default=True,
              help="Comma-separated: saved_model, tflite, onnx (or all).")
@click.option("--quantize", "modes", default="all", show_default=True,
              help="TFLite modes, comma-separated: float32, float16, dynamic, int8, int16x8 (or all); add qat for "
                   "quantization-aware training then int8 (e.g. all,qat).")
@click.option("--data", default=None,
              help="Dataset for calibration and verification: bundled, a folder, .npz, ... (default: the run's own, "
                   "rebuilt with its recipe and its held-out split checked).")
@_data_options
@click.option("--labels", "labels_file", default=None, type=click.Path(),
              help="Class names, one per line (default: the run's labels.txt).")
@click.option("--calibration-size", default=200, show_default=True, type=int,
              help="Representative images for int8/int16x8 (stratified, deterministic).")
@click.option("--int8-io", type=click.Choice(["uint8", "int8"]), default="uint8", show_default=True,
              help="Input/output type of the int8 model (uint8 takes raw pixels as they are; MediaPipe needs uint8).")
@click.option("--rgb-input/--model-input", "rgb_input", default=None,
              help="Artifacts take RGB frames and convert to the model's gray channel inside, as cameras and "
                   "MediaPipe need [default: on for 1-channel models].")
@click.option("--verify-images", default=256, show_default=True, type=int,
              help="Held-out images each artifact is checked on before it is moved into place.")
@click.option("--min-agreement", default=0.8, show_default=True, type=float,
              help="Least top-1 agreement with the float model a quantized artifact must reach.")
@click.option("--report/--no-report", default=True, show_default=True,
              help="Evaluate every artifact and write report.json/.md/.png.")
@click.option("--max-drop", type=float, default=None,
              help="Exit non-zero if an artifact loses more top-1 points than this vs the float model (needs the "
                   "report and labelled held-out data: refused without them).")
@click.option("--eval-seconds", type=float, default=None,
              help="Cap each artifact's accuracy run in the report at about this many seconds [default: 5x the "
                   "reference's run, at least 20 s: a slow int16x8 is scored on a stated subset].")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the calibration and verification picks.")
@click.option("--qat-epochs", default=1, show_default=True, type=int,
              help="With --quantize ...,qat: epochs of quantization-aware fine-tuning on the training data.")
@click.option("--qat-learning-rate", default=1e-4, show_default=True, type=float,
              help="Peak learning rate (Adam, cosine decay to 0) of quantization-aware training.")
@click.option("--prune", "prune", default=None, type=float, metavar="SPARSITY",
              help="Also export a pruned model: this fraction of conv/dense weights zeroed, in [0, 1) (e.g. 0.5).")
@click.option("--prune-epochs", default=2, show_default=True, type=int, help="Fine-tuning epochs while pruning.")
@click.option("--prune-learning-rate", default=1e-4, show_default=True, type=float,
              help="Learning rate (Adam) while pruning.")
@click.option("--cluster", "cluster", default=None, type=int, metavar="N",
              help="Also export a clustered model: N shared values per conv/dense kernel, N >= 2 (e.g. 16).")
@click.option("--cluster-epochs", default=2, show_default=True, type=int, help="Fine-tuning epochs while clustering.")
@click.option("--cluster-learning-rate", default=1e-4, show_default=True, type=float,
              help="Learning rate (Adam) while clustering.")
@_friendly_errors
def export_command(source, out_dir, report, **options):
    """Export a run folder or .keras model to SavedModel and TFLite, each verified, with a report card.

    Quantization-aware training (--quantize ...,qat), pruning (--prune) and clustering (--cluster)
    fine-tune the model on its training data first (tensorflow-model-optimization) and add their
    .tflite files to the same verification and report card.
    """
    from .export import ExportOptions, export_all

    result = export_all(source, out_dir, ExportOptions(evaluate=report, **options))
    for name, entry in result.manifest["artifacts"].items():
        check = entry["verification"]
        verdict = (f"max |diff| {check['max_abs_diff']:.1e}" if check.get("tolerance") is not None
                   else f"top-1 agreement {check['top1_agreement']:.1%}")
        if entry.get("compression"):  # pruned / clustered / QAT files: how well they compress
            verdict += f", gzip {_kib(entry['compression']['gzip_bytes'])}"
        click.echo(f"{os.path.relpath(entry['path'])}  {_kib(entry['size_bytes'])}  verified on "
                   f"{check['images']} images: {verdict}")
    if result.report:
        from .export.report import markdown

        click.echo("\n" + markdown(result.report))
        click.echo(f"Report: {result.report_paths['md']} (also .json, .png)")
    manifest = result.manifest
    if manifest["removed"]:
        click.echo(f"Removed what an earlier export left in {result.out_dir}: {', '.join(manifest['removed'])}")
    if manifest["unowned"]:
        click.echo(f"Not written by this export (left as they are): {', '.join(manifest['unowned'])}")
    click.echo(f"Artifacts in {result.out_dir} (manifest: {result.paths['manifest']})")
    _raise_if_gate_failed(result.report)


@main.command("evaluate")
@click.argument("artifacts", nargs=-1, required=True, type=click.Path())
@click.option("--data", default=None, help="Held-out data: bundled, a folder, .npz, ... (default: the one the run or "
                                           "the export recorded, rebuilt with its recipe and checked).")
@_data_options
@click.option("--split", default=None, help="Split to evaluate on (default: the one the run held out, else test, "
                                            "else validation).")
@click.option("--reference", default=None, help="The float artifact to compare with (default: the Keras model, "
                                                "else the SavedModel, else the float32 .tflite).")
@click.option("--max-drop", type=float, default=None,
              help="Exit non-zero if an artifact loses more top-1 points than this vs the reference.")
@click.option("--out", "out_dir", default=None, type=click.Path(),
              help="Folder for report.json/.md/.png (default: the first artifact's folder).")
@click.option("--max-images", type=int, default=None, help="Use at most this many held-out images (stratified).")
@click.option("--max-seconds", type=float, default=None,
              help="Cap each artifact's accuracy run at about this many seconds (scored on a random subset).")
@click.option("--latency-runs", default=50, show_default=True, type=int, help="Timed batch-1 runs per thread setting.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the image order and --max-images.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of Markdown.")
@_friendly_errors
def evaluate_command(artifacts, as_json, **options):
    """Report card: accuracy, agreement, size, latency and quantization of each artifact."""
    from .export.evaluation import evaluate
    from .export.report import markdown

    report, paths = evaluate(artifacts, progress=not as_json, **options)
    click.echo(json.dumps(report, indent=2) if as_json else markdown(report))
    if not as_json:
        click.echo(f"Report: {paths['md']} (also .json, .png)")
    _raise_if_gate_failed(report)


@main.command("predict")
@click.argument("artifact", type=click.Path())
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(min=1), help="Classes to show per image.")
@click.option("--labels", "labels_file", default=None, type=click.Path(),
              help="Class names, one per line (default: those saved with the artifact).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_friendly_errors
def predict_command(artifact, images, top_k, labels_file, as_json):
    """Top-k class names and probabilities for image files and folders (every image inside, recursively);
    .keras, SavedModel or .tflite alike. Says when an image was resized or its channels converted to fit."""
    from .export import predict_files

    class_names = None
    if labels_file:
        from keras_resnet.data import read_labels

        class_names = read_labels(labels_file)
    results = predict_files(artifact, images, top_k, class_names)
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    for result in results:
        ranked = ", ".join(f"{item['class']} {item['probability']:.3f}" for item in result["predictions"])
        changes = f"  ({'; '.join(result['adjustments'])} to fit the model)" if result["adjustments"] else ""
        click.echo(f"{result['image']}: {ranked}{changes}")


@main.command("benchmark")
@click.argument("artifact", type=click.Path())
@click.option("--threads", multiple=True, help="Thread counts to time, repeatable; 'all' = every core "
                                                "(default: 1 and all).")
@click.option("--runs", default=100, show_default=True, type=click.IntRange(min=1), help="Timed batch-1 runs.")
@click.option("--warmup", default=10, show_default=True, type=click.IntRange(min=0), help="Untimed runs first.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1),
              help="Batch size for throughput.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_friendly_errors
def benchmark_command(artifact, threads, runs, warmup, batch_size, as_json):
    """Latency (batch 1, p50/p90) and throughput of one artifact."""
    from .export import benchmark

    result = benchmark(artifact, threads, warmup=warmup, runs=runs, batch_size=batch_size)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"{result['artifact']} ({result['kind']} {result['mode']}, {_kib(result['size_bytes'])})")
    for key, value in result["latency_ms"].items():
        label = f"all {result['all_threads']} threads" if key == "all" else f"{key} thread(s)"
        if value is None:
            click.echo(f"  batch 1, {label}: not measurable (TensorFlow fixes its threads at start-up)")
        else:
            click.echo(f"  batch 1, {label}: p50 {value['p50_ms']:.3f} ms, p90 {value['p90_ms']:.3f} ms "
                       f"({value['runs']} runs)")
    speed = result["throughput"]
    click.echo(f"  throughput, batch {speed['batch_size']}, all threads: {speed['images_per_second']:,.1f} images/s")


@main.group("experiment")
def experiment_group():
    """Experiments that show why residual learning works; each writes NAME.json, NAME.md and PNGs, and resumes."""


def _experiment_options(name):
    """The flags every experiment shares; --out defaults to runs/experiments/NAME."""
    flags = [
        click.option("--out", default=f"runs/experiments/{name}", show_default=True, type=click.Path(file_okay=False),
                     help="Folder for the JSON, Markdown and PNGs; rerun the same command to resume there."),
        click.option("--data", default="bundled", show_default=True,
                     help=f"{sources_help()}."),
        click.option("--recipe", type=click.Choice(["tiny", "paper"]), default="tiny", show_default=True,
                     help="tiny: about 10 minutes on 2 CPU cores; paper: the papers' CIFAR-10 recipe (SGD 0.1, "
                          "batch 128, 64k iterations, /10 at 32k and 48k), for a GPU."),
        click.option("--epochs", type=click.IntRange(min=1), default=None,
                     help="Train this many epochs instead (tiny: 5; paper: 64k iterations)."),
        click.option("--train-images", type=click.IntRange(min=10), default=None,
                     help="Train on a fixed stratified subset of this many images (tiny: 2000; paper: all)."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seeds weights, data order, subsets."),
        click.option("--quiet", is_flag=True, help="No progress lines or bars."),
    ]
    return lambda function: functools.reduce(lambda f, flag: flag(f), reversed(flags), function)


def _run_experiment(name, quiet, **options):
    from keras_resnet.experiments import EXPERIMENTS

    result = EXPERIMENTS[name](verbose=0 if quiet else None, **options)
    for sentence in result.summary["sentences"]:
        click.echo(f"- {sentence}")
    click.echo(f"Report: {result.paths['md']} (numbers: {result.paths['json']}; figures: "
               f"{', '.join(result.paths['png'])})")


def _experiment_command(name, summary, *flags):
    """Registers ``keras-resnet experiment NAME``: the shared flags, then ``flags``; it runs EXPERIMENTS[name]."""

    def command(**options):
        _run_experiment(name, **options)

    command.__doc__ = summary
    command = _friendly_errors(command)
    for flag in reversed(flags):
        command = flag(command)
    return experiment_group.command(name)(_experiment_options(name)(command))


DEPTHS_OF_BOTH = click.option("--depths", default="20,56", show_default=True,
                              help="Comma-separated depths (6n+2); a plain net and a ResNet of each.")
TABLE_DEPTH = click.option("--depth", type=int, default=None, help="6n+2 [20; 110 with --recipe paper].")

_experiment_command(
    "degradation",
    "Plain nets vs ResNets of the same depths: does the deeper plain net train worse, and do shortcuts fix it?",
    DEPTHS_OF_BOTH)
_experiment_command(
    "shortcuts", "Identity Mappings Table 1: scaled, gated, 1x1-conv and dropout shortcuts against the identity.",
    TABLE_DEPTH,
    click.option("--variants", default="original,constant_scaling,exclusive_gating,shortcut_gating,conv1x1,dropout",
                 show_default=True, help="Comma-separated, or all (adds constant_scaling_both, exclusive_gating_b0, "
                                         "exclusive_gating_b7, shortcut_gating_b0)."))
_experiment_command(
    "activations", "Identity Mappings Table 2: where BN and ReLU sit around the addition.",
    TABLE_DEPTH,
    click.option("--variants", default="all", show_default=True,
                 help="Comma-separated of post_activation, bn_after_addition, relu_before_addition, "
                      "relu_preactivation, full_preactivation; or all."))
_experiment_command(
    "identity", "||F(x)|| / ||x|| per residual unit across training, last-BN gamma zero-initialised vs default.",
    click.option("--depth", type=int, default=20, show_default=True, help="6n+2."),
    click.option("--version", default="v1", show_default=True,
                 help="v1, v2 or any activation order (bn_after_addition ...)."))
_experiment_command(
    "vanishing-gradients",
    "Per-unit gradient norms and activation spread of plain nets and ResNets: did the deep plain net's vanish?",
    DEPTHS_OF_BOTH)
_experiment_command(
    "one-layer-shortcuts",
    "Shortcuts around one conv against around two, at equal depth, with the plain net beside them.",
    click.option("--depth", type=int, default=56, show_default=True, help="6n+2: both groupings fit."))
_experiment_command(
    "construction", "A trained shallow net grown deeper with identity units: starts equal, then trained on.",
    click.option("--shallow-depth", type=int, default=20, show_default=True, help="The net trained first (6n+2)."),
    click.option("--deep-depth", type=int, default=56, show_default=True, help="The net it is grown into (6n+2)."),
    click.option("--families", default="residual,plain", show_default=True, help="residual, plain or both."),
    click.option("--continue-epochs", type=click.IntRange(min=1), default=None,
                 help="Epochs the grown and the continued nets train [half the first run's]."),
    click.option("--continue-rate", type=float, default=0.1, show_default=True,
                 help="Their learning rate, as a factor of the recipe's."))
_experiment_command(
    "signal-propagation",
    "Gradient reaching the first unit relative to the last, for v1/v2 units and the Table 1 shortcuts.",
    click.option("--variants", show_default=True,
                 default="original,preactivation,constant_scaling,exclusive_gating,shortcut_gating,conv1x1,dropout",
                 help="Measured at initialisation; or all (adds the other Table 1 variants)."),
    click.option("--depths", default="20,56,110", show_default=True, help="Depths measured at initialisation."),
    click.option("--trained", default="original,constant_scaling", show_default=True,
                 help="Variants also trained and measured every epoch; none for no training."),
    click.option("--depth", type=int, default=None, help="Depth of the trained nets [20; 110 with --recipe paper]."))


def _phase(number, title):
    click.secho(f"\n[{number}/3] {title}", bold=True)


@main.command("quickstart")
@click.option("--out", "out_dir", default="keras-resnet-quickstart", show_default=True,
              help="Folder for the training run, the artifacts and the report card.")
@click.option("--model", default="resnet20", show_default=True, help="Zoo name (keras-resnet models).")
@click.option("--data", default="bundled", show_default=True, help="Any --data source of `train`.")
@click.option("--epochs", default=3, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1))
@click.option("--max-drop", type=float, help="Exit non-zero if an artifact loses more top-1 points than this.")
@_friendly_errors
def quickstart_command(out_dir, model, data, epochs, batch_size, max_drop):
    """Train a small ResNet on the bundled digits, export every artifact, print the report card.

    A rerun reuses a finished training run in OUT/run (or resumes an interrupted one) and exports again.
    """
    import time

    from keras_resnet import run_directory
    from keras_resnet.training import train

    from .export import ExportOptions, export_all, markdown

    options = ExportOptions(max_drop=max_drop)  # checked before training, not after it
    started = time.perf_counter()
    run_dir, export_dir = os.path.join(out_dir, "run"), os.path.join(out_dir, "export")
    _phase(1, f"Training {model} on {data} for {epochs} epochs (progress bars below)")
    if run_directory.is_finished(run_dir):
        click.echo(f"Reusing the finished run in {run_dir} (delete it to train again).")
    else:
        train(model=model, data=data, epochs=epochs, batch_size=batch_size, run_dir=run_dir)
    _phase(2, "Exporting SavedModel and TFLite float32, float16, dynamic, int8, int16x8; verifying each")
    result = export_all(run_dir, export_dir, options)
    _phase(3, "Report card (held-out test images, through each artifact's real runtime)")
    click.echo(markdown(result.report))
    click.echo(f"\nTraining run:  {run_dir}  (model.keras, history.png, labels.txt, TensorBoard logs)")
    click.echo(f"Artifacts:     {export_dir}")
    for kind, path in sorted(result.report_paths.items()):
        click.echo(f"Report {kind:<5}  {path}")
    click.echo(f"Done in {time.perf_counter() - started:.0f} s.")
    _raise_if_gate_failed(result.report)


if __name__ == "__main__":
    main()
