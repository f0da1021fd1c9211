"""Training across processes and devices: MirroredStrategy over 2 logical CPUs equals one device,
MultiWorkerMirroredStrategy over 2 local workers (keras-team/keras#20585 fixed), and resume after SIGKILL.

Every child process binds 127.0.0.1 only, runs under a timeout, and is killed by its own id if it hangs.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
from helpers import toy_npz

TIMEOUT = 240  # seconds for any child process; these take 10-30 s on 2 cores


def child_env(**extra):
    env = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", PYTHONUNBUFFERED="1", **extra)
    return env


def run_script(source, *args, timeout=TIMEOUT):
    completed = subprocess.run([sys.executable, "-c", textwrap.dedent(source), *map(str, args)],
                               capture_output=True, text=True, timeout=timeout, env=child_env())
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed.stdout


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for item in sockets:
            item.bind(("127.0.0.1", 0))
        return [item.getsockname()[1] for item in sockets]
    finally:
        for item in sockets:
            item.close()


def stop(process):
    """Kills one child we started, by its own id, if it still runs."""
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


MIRRORED = """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]  # before TensorFlow initialises: 2 logical CPUs
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    from keras_resnet.training import build_network, train
    common = dict(model="resnet8", data=sys.argv[1], epochs=1, validation_split=0, augment="none",
                  optimizer="sgd", momentum=0.0, learning_rate=1.0, weight_decay=1e-4, precision="float32",
                  sync_batchnorm=True, tensorboard=False, verbose=0)
    single = train(strategy="default", batch_size=16, run_dir=sys.argv[2] + "/single", **common)
    mirrored = train(strategy="mirrored", batch_size=8, run_dir=sys.argv[2] + "/mirrored", **common)
    keras.utils.set_random_seed(0)
    initial = build_network("resnet8", (16, 16, 3), 2).get_weights()
    difference = lambda a, b: max(float(np.abs(x - y).max()) for x, y in zip(a, b))
    print(json.dumps({
        "replicas": mirrored.metrics["replicas"], "global_batch": mirrored.metrics["global_batch_size"],
        "steps": [single.metrics["steps_per_epoch"], mirrored.metrics["steps_per_epoch"]],
        "difference": difference(single.model.get_weights(), mirrored.model.get_weights()),
        "moved": difference(single.model.get_weights(), initial),
    }))
"""


def test_mirrored_two_devices_match_one_device(tmp_path):
    """Same global batch of 16: one step on 2 replicas x 8 gives the weights of one device x 16
    (SGD without momentum, no augmentation, BatchNorm statistics over the global batch)."""
    data = toy_npz(tmp_path / "one_batch.npz", train=16, test=4)
    result = json.loads(run_script(MIRRORED, data, tmp_path).strip().splitlines()[-1])
    assert result["replicas"] == 2 and result["global_batch"] == 16 and result["steps"] == [1, 1]
    assert result["moved"] > 1e-2  # the step changed the weights by far more than the tolerance
    assert result["difference"] < 1e-4


WORKER = """
    import json, os, sys
    index, ports, data, run_dir, out = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3], sys.argv[4], sys.argv[5]
    os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                                          "task": {"type": "worker", "index": index}})
    import numpy as np
    from keras.src.backend.tensorflow import trainer
    from keras_resnet.training import train
    result = train(model="resnet8", data=data, epochs=3, batch_size=16, strategy="auto", precision="float32",
                   run_dir=run_dir, tensorboard=False, validation_split=0.25, augment="none",
                   learning_rate=0.05, verbose=2)
    np.savez(out, *result.model.get_weights())
    fixed = getattr(trainer.reduce_per_replica, "_keras_resnet_issue_20585_fix", False)
    with open(out + ".json", "w") as file:
        json.dump({"history": result.history, "metrics": result.metrics, "fixed": fixed}, file)
"""


def test_multi_worker_fit_trains_and_workers_agree(tmp_path):
    data = toy_npz(tmp_path / "toy.npz", train=128, test=32)
    ports = ",".join(map(str, free_ports(2)))
    script = textwrap.dedent(WORKER)
    outputs = [tmp_path / f"worker{index}.npz" for index in range(2)]
    logs = [open(tmp_path / f"worker{index}.log", "w") for index in range(2)]
    workers = [subprocess.Popen([sys.executable, "-c", script, str(index), ports, data, tmp_path / "run",
                                 outputs[index]], stdout=logs[index], stderr=subprocess.STDOUT, env=child_env())
               for index in range(2)]
    try:
        deadline = time.time() + TIMEOUT
        for worker in workers:
            worker.wait(timeout=max(1, deadline - time.time()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        for worker in workers:
            stop(worker)
        for log in logs:
            log.close()
    for index, worker in enumerate(workers):
        log = (tmp_path / f"worker{index}.log").read_text()[-3000:]
        assert worker.returncode == 0, f"worker {index} failed:\n{log}"
    reports = [json.load(open(f"{output}.json")) for output in outputs]
    for report in reports:
        assert report["fixed"] and report["metrics"]["strategy"] == "multi_worker"
        assert report["metrics"]["replicas"] == 2 and report["metrics"]["global_batch_size"] == 32
        loss = report["history"]["loss"]
        assert len(loss) == 3 and loss[-1] < loss[0]
    weights = [np.load(output) for output in outputs]
    assert len(weights[0].files) == len(weights[1].files) > 0
    for name in weights[0].files:  # trainable weights and BatchNorm statistics alike
        np.testing.assert_array_equal(weights[0][name], weights[1][name])
    # only the chief (worker 0) wrote the run directory
    assert json.load(open(tmp_path / "run" / "metrics.json"))["completed"]
    assert not [name for name in os.listdir(tmp_path / "run" / "checkpoints") if "worker" in name]


def test_killed_run_resumes_from_its_checkpoint(tmp_path):
    data = toy_npz(tmp_path / "toy.npz", train=128, test=16)
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "keras_resnet.cli", "train", "--model", "resnet8", "--data", data,
               "--epochs", "10", "--batch-size", "16", "--precision", "float32", "--augment", "none",
               "--run-dir", str(run_dir), "--verbose", "2"]
    state_file = run_dir / "checkpoints" / "checkpoint.json"
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=child_env())
    try:
        deadline = time.time() + TIMEOUT
        while time.time() < deadline and first.poll() is None:
            state = json.load(open(state_file)) if state_file.exists() else None
            if state and state["epochs_done"] >= 1:
                os.kill(first.pid, signal.SIGKILL)  # our own child, by its id
                break
            time.sleep(0.05)
        first.wait(timeout=30)
    finally:
        stop(first)
    assert first.returncode == -signal.SIGKILL, "the first run was not killed mid-run:\n" + first.stdout.read()[-2000:]
    killed_at = json.load(open(state_file))["epochs_done"]
    assert 1 <= killed_at < 10 and not (run_dir / "metrics.json").exists() and not (run_dir / "model.keras").exists()

    second = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, env=child_env())
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert "Resuming from checkpoint" in second.stdout and f"{killed_at}/10 epochs done" in second.stdout
    assert "Epoch 1/10" not in second.stdout and f"Epoch {killed_at + 1}/10" in second.stdout
    metrics = json.load(open(run_dir / "metrics.json"))
    assert metrics["completed"] and metrics["resumed_from"]["epochs_done"] == killed_at
    history = json.load(open(run_dir / "history.json"))
    assert len(history["loss"]) == 10 and all(value is not None for value in history["loss"])
    assert (run_dir / "model.keras").exists()
