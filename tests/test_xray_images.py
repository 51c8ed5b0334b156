"""The one preprocessing function (X1): every input format becomes an 8-bit 28x28 grayscale model input,
and every bad upload becomes a sentence (ImageError) or a prediction-worthy image with a warning."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from engine.data.images import MAX_PIXELS, preprocess
from engine.errors import ImageError


def chest_like(h: int = 120, w: int = 100) -> np.ndarray:
    """A gray gradient with a bright block top-left: enough structure to check orientation and inversion."""
    a = np.tile(np.linspace(20, 200, w, dtype=np.float32), (h, 1))
    a[: h // 4, : w // 4] = 250
    return a.astype(np.uint8)


def png_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=kw.pop("format", "PNG"), **kw)
    return buf.getvalue()


def assert_model_input(pre, size: int = 28) -> None:
    assert pre.image.shape == (size, size) and pre.image.dtype == np.uint8
    assert pre.image.max() > pre.image.min(), "structure must survive preprocessing"


def test_8bit_gray_png_is_centre_cropped_and_resized():
    g = chest_like(120, 100)
    pre = preprocess(png_bytes(Image.fromarray(g)), keep_steps=True)
    assert_model_input(pre)
    assert pre.original_size == (100, 120) and pre.original_mode == "L"
    assert [c.split(":")[0] for c, _ in pre.steps][0] == "decoded"
    # the crop drops 10 rows top and bottom, then shrinks 100 -> 28
    expected = np.asarray(Image.fromarray(g[10:110]).resize((28, 28), Image.Resampling.BICUBIC, reducing_gap=3.0))
    assert np.abs(pre.image.astype(int) - expected.astype(int)).max() <= 1


def test_16bit_gray_is_stretched_to_8bit_with_a_note():
    g16 = (chest_like().astype(np.uint16) * 16)  # 12-bit data in a 16-bit container
    pre = preprocess(png_bytes(Image.fromarray(g16)))
    assert_model_input(pre)
    assert pre.image.max() >= 250, "a 12-bit image must use the full 8-bit range, not come out dark"
    assert any("bit depth" in w for w in pre.warnings)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "CMYK", "LA", "1"])
def test_colour_modes_become_the_same_grayscale(mode):
    g = chest_like()
    base = preprocess(png_bytes(Image.fromarray(g))).image
    img = Image.fromarray(g).convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    pre = preprocess(png_bytes(img, format=fmt, **({"quality": 95} if fmt == "JPEG" else {})))
    assert pre.image.shape == (28, 28) and pre.image.dtype == np.uint8
    if mode != "1":  # 1-bit dithers
        assert np.abs(pre.image.astype(int) - base.astype(int)).mean() < 6


def test_rgba_transparency_is_flattened_onto_black():
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[:, :32, 3] = 255  # left half opaque, right half transparent
    pre = preprocess(png_bytes(Image.fromarray(rgba, "RGBA")))
    assert pre.image[:, :10].mean() > 150 and pre.image[:, -10:].mean() < 10
    assert any("Transparency" in w for w in pre.warnings)


def test_exif_rotated_jpeg_is_turned_upright():
    g = chest_like(120, 100)
    img = Image.fromarray(g)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90 degrees clockwise
    pre = preprocess(png_bytes(img, format="JPEG", quality=95, exif=exif.tobytes()))
    assert pre.original_size == (120, 100), "width and height swap after the EXIF rotation"
    upright = np.asarray(img.transpose(Image.Transpose.ROTATE_270))
    expected = preprocess(upright).image
    assert np.abs(pre.image.astype(int) - expected.astype(int)).mean() < 6


def dicom_bytes(pixels: np.ndarray, photometric: str) -> bytes:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # digital X-ray
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def test_dicom_monochrome2_and_monochrome1_give_the_same_picture():
    raw = chest_like().astype(np.uint16) * 16  # 12-bit
    m2 = preprocess(dicom_bytes(raw, "MONOCHROME2"))
    m1 = preprocess(dicom_bytes(4095 - raw, "MONOCHROME1"))  # same anatomy, inverted encoding
    assert_model_input(m2)
    assert np.abs(m1.image.astype(int) - m2.image.astype(int)).max() <= 1
    assert m2.original_mode == "DICOM MONOCHROME2" and m1.original_mode == "DICOM MONOCHROME1"


def test_dataset_arrays_pass_through_unchanged():
    a = chest_like(28, 28)
    assert np.array_equal(preprocess(a).image, a)


# --- bad uploads: a sentence, never a traceback ------------------------------------------------------------------

def test_not_an_image_says_what_to_upload():
    with pytest.raises(ImageError, match="PNG, JPEG or DICOM"):
        preprocess(b"%PDF-1.4 this is a document, not an X-ray" * 10)


def test_empty_file():
    with pytest.raises(ImageError, match="empty"):
        preprocess(b"")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file(fmt):
    data = png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200), dtype=np.uint8)), format=fmt)
    with pytest.raises(ImageError, match="truncated or corrupt|not an image"):
        preprocess(data[: len(data) // 2])


def test_one_pixel_image_is_refused():
    with pytest.raises(ImageError, match="1 x 1"):
        preprocess(png_bytes(Image.new("L", (1, 1), 128)))


def test_decompression_bomb_is_refused_before_decoding():
    """A PNG whose header claims 100,000 x 100,000 pixels (10 GB decoded) from a few hundred bytes."""
    data = bytearray(png_bytes(Image.new("L", (8, 8), 0)))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", 100_000, 100_000)
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr : ihdr + 17])))
    assert 100_000**2 > MAX_PIXELS
    with pytest.raises(ImageError, match="too large"):
        preprocess(bytes(data))


def test_animated_gif_uses_the_first_frame_with_a_warning():
    frames = [Image.fromarray(chest_like()), Image.new("L", (100, 120), 0), Image.new("L", (100, 120), 255)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    pre = preprocess(buf.getvalue())
    assert_model_input(pre)  # frames 2 and 3 are flat; only frame 1 has structure
    assert any("animated" in w and "first frame" in w for w in pre.warnings)


def test_colour_photograph_gets_a_warning():
    from sklearn.datasets import load_sample_image

    photo = load_sample_image("china.jpg")
    pre = preprocess(png_bytes(Image.fromarray(photo), format="JPEG"))
    assert_model_input(pre)
    assert any("colour" in w for w in pre.warnings)
    gray_rgb = np.repeat(chest_like()[..., None], 3, axis=-1)
    assert not any("colour" in w for w in preprocess(png_bytes(Image.fromarray(gray_rgb))).warnings)
