"""The ``keras-resnet`` command line: thin click wrappers over the Python API."""

import functools
import json
import os
import sys

import click

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

    return wrapper


@click.group()
@click.version_option(package_name="keras3-resnet")
def main():
    """Every ResNet of the residual-learning papers: build, train, export, evaluate."""


@main.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--name", "names", multiple=True, help="Only these models (repeatable). Default: all.")
@_friendly_errors
def models_command(as_json, names):
    """List the model zoo: parameters, FLOPs (multiply-adds), depth, version."""
    from keras_resnet.summary import zoo_table, format_table

    rows = zoo_table(names or None, progress=not as_json)
    click.echo(json.dumps(rows, indent=2) if as_json else format_table(rows))


if __name__ == "__main__":
    main()
