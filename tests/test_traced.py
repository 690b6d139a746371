"""models.common.run_recording under many viewers at once: each viewer is a thread of one server process, and the
first trace of a network used to be raced (issue 36: two viewers of the faces page got the error box at N = 20)."""
from __future__ import annotations

import threading

import torch

from models import common, faces


def test_many_threads_tracing_a_fresh_network_at_once_all_get_its_answer():
    """Eight threads call run_recording on a network never traced, released at the same instant: each gets the
    network's answer, and the network is traced once. Without the lock, 35 of 40 calls raised "Cannot insert a
    Tensor that requires grad as a constant" (5 trials of 8 threads)."""
    x = torch.randn(1, 1, 64, 52)
    for trial in range(3):
        net = faces.FaceNet(faces.Config()).eval()
        with torch.inference_mode(), common.autocast(x.device):
            expected = net(x.contiguous(memory_format=torch.channels_last), {})
        barrier, errors, answers = threading.Barrier(8), [], []

        def viewer():
            barrier.wait()
            try:
                with torch.inference_mode():
                    answers.append(common.run_recording(net, x)[0])
            except Exception as e:  # noqa: BLE001 - what the viewer would have seen
                errors.append(f"{type(e).__name__}: {str(e)[:120]}")

        threads = [threading.Thread(target=viewer) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, (trial, errors)
        assert len(answers) == 8
        for answer in answers:
            torch.testing.assert_close(answer, expected)
        assert len(common._TRACED[net]) == 1  # one trace, shared by all eight
