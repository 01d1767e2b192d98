import os
import shutil

import pytest

from lecturelens.errors import InputError
from lecturelens.ingest import iter_frames, probe


def test_probe_reads_metadata(testsrc_video):
    info = probe(testsrc_video)
    assert (info.width, info.height) == (320, 240)
    assert info.codec == "h264"
    assert info.fps == pytest.approx(10)
    assert info.duration == pytest.approx(5.0, abs=0.2)


def test_sampling_uses_decoder_timestamps(testsrc_video):
    info = probe(testsrc_video)
    frames = list(iter_frames(info, fps=2.0))
    times = [f.t for f in frames]
    assert times == pytest.approx([0.5 * k for k in range(10)], abs=0.051)
    assert [f.index for f in frames] == [5 * k for k in range(10)]
    assert frames[0].rgb.shape == (240, 320, 3)


def test_sampling_follows_variable_frame_rate(tmp_path, ffmpeg):
    # 3 s at 10 fps, then 3 s at 2 fps, concatenated into one VFR stream.
    out = tmp_path / "vfr.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=3",
           "-f", "lavfi", "-i", "testsrc=size=160x120:rate=2:duration=3",
           "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]",
           "-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out))
    frames = list(iter_frames(probe(out), fps=1.0))
    times = [round(f.t, 2) for f in frames]
    assert times[:3] == pytest.approx([0.0, 1.0, 2.0], abs=0.11)
    assert times[-1] == pytest.approx(5.5, abs=0.6)
    assert len(frames) == 6  # one per second; the sparse part is not padded with copies


def _bad(path, *words):
    with pytest.raises(InputError) as err:
        probe(path)
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg
    for w in words:
        assert w in msg.lower()
    return msg


def test_missing_file(tmp_path):
    _bad(tmp_path / "nope.mp4", "no such file")


def test_directory(tmp_path):
    _bad(tmp_path, "directory")


def test_zero_byte(tmp_path):
    p = tmp_path / "empty.mp4"
    p.touch()
    _bad(p, "empty")


def test_truncated_mp4(tmp_path, testsrc_video):
    p = tmp_path / "trunc.mp4"
    data = testsrc_video.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    _bad(p, "truncated")


def test_truncated_faststart_mp4_fails_while_decoding(tmp_path, ffmpeg):
    # With the index at the front the header survives, and the loss shows up while decoding.
    full = tmp_path / "full.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=20", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(full))
    p = tmp_path / "cut.mp4"
    data = full.read_bytes()
    p.write_bytes(data[: len(data) // 3])
    info = probe(p)
    with pytest.raises(InputError, match="truncated"):
        list(iter_frames(info, fps=1.0))


def test_audio_only(tmp_path, ffmpeg):
    p = tmp_path / "audio.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", str(p))
    _bad(p, "no video stream", "audio")


def test_text_file_named_mp4(tmp_path):
    p = tmp_path / "notes.mp4"
    p.write_text("this is not a video\n" * 10)
    _bad(p, "not a video")


def test_still_image(tmp_path, astronaut):
    from PIL import Image

    p = tmp_path / "photo.png"
    Image.fromarray(astronaut).save(p)
    _bad(p, "still image")


def test_undecodable_video_stream(tmp_path, testsrc_video):
    # Keep the container intact but destroy the coded picture data.
    data = bytearray(testsrc_video.read_bytes())
    start = data.find(b"mdat") + 4
    end = data.find(b"moov")
    end = end if end > start else len(data)
    data[start:end] = bytes(end - start)
    p = tmp_path / "garbled.mp4"
    p.write_bytes(bytes(data))
    _bad(p, "cannot be decoded")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_permissions(tmp_path, testsrc_video):
    p = tmp_path / "locked.mp4"
    shutil.copy(testsrc_video, p)
    p.chmod(0)
    _bad(p, "permission")


def test_prefetch_keeps_order_raises_in_order_and_stops_early():
    import threading

    from lecturelens.ingest import prefetch

    assert list(prefetch(range(100), depth=3)) == list(range(100))

    def failing():
        yield 1
        yield 2
        raise ValueError("corrupt frame")

    got = []
    with pytest.raises(ValueError, match="corrupt frame"):
        for x in prefetch(failing()):
            got.append(x)
    assert got == [1, 2]
    it = prefetch(iter(range(10 ** 9)), depth=2)
    assert next(it) == 0
    it.close()  # the consumer stops: the producer thread must end too
    assert not any(t.name == "lecturelens-decode" and t.is_alive()
                   for t in threading.enumerate())
