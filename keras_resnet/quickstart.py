"""The main job, end to end on the bundled data: train a small ResNet, export every artifact, grade them.

The top layer: it only calls ``keras_resnet.training.train`` and ``keras_resnet.export.export_all``.
"""

import json
import os
import time

import click

QUICKSTART_DIR = "keras-resnet-quickstart"


def _phase(number, title):
    click.secho(f"\n[{number}/3] {title}", bold=True)


def _finished(run_dir):
    try:
        with open(os.path.join(run_dir, "metrics.json"), encoding="utf-8") as file:
            return bool(json.load(file).get("completed"))
    except (OSError, ValueError):
        return False


def quickstart(out_dir=QUICKSTART_DIR, *, model="resnet20", data="bundled", epochs=3, batch_size=32,
               max_drop=None):
    """Train ``model`` on ``data``, export SavedModel + five TFLite modes, print the report card.

    A rerun reuses a finished training run in ``out_dir/run`` (or resumes an interrupted one) and exports again.
    Returns the export result (paths, report).
    """
    from keras_resnet.export import export_all, markdown
    from keras_resnet.training import train

    started = time.perf_counter()
    run_dir, export_dir = os.path.join(out_dir, "run"), os.path.join(out_dir, "export")
    _phase(1, f"Training {model} on {data} for {epochs} epochs (progress bars below)")
    if _finished(run_dir):
        click.echo(f"Reusing the finished run in {run_dir} (delete it to train again).")
    else:
        train(model=model, data=data, epochs=epochs, batch_size=batch_size, run_dir=run_dir)
    _phase(2, "Exporting SavedModel and TFLite float32, float16, dynamic, int8, int16x8; verifying each")
    result = export_all(run_dir, export_dir, max_drop=max_drop)
    _phase(3, "Report card (held-out test images, through each artifact's real runtime)")
    click.echo(markdown(result.report))
    click.echo(f"\nTraining run:  {run_dir}  (model.keras, history.png, labels.txt, TensorBoard logs)")
    click.echo(f"Artifacts:     {export_dir}")
    for kind, path in sorted(result.report_paths.items()):
        click.echo(f"Report {kind:<5}  {path}")
    click.echo(f"Done in {time.perf_counter() - started:.0f} s.")
    return result
