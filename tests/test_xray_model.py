"""EfficientNet-Lite0 takes every tensor of the shipped ImageNet file; pretrained features beat random ones;
strategies freeze what they say; Grad-CAM points somewhere."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from conftest import shared_data_or_skip
from engine.vision.efficientnet_lite import EfficientNetLite0
from engine.vision.gradcam import grad_cam
from engine.vision.model import XrayNet
from engine.vision.pretrained import load_imagenet_state


def test_every_tensor_of_the_weight_file_is_loaded():
    file_state = load_imagenet_state()
    net = EfficientNetLite0()
    model_state = net.state_dict()
    assert set(model_state) == set(file_state), "architecture and file must name the same tensors"
    assert {k: tuple(v.shape) for k, v in model_state.items()} == {k: tuple(v.shape) for k, v in file_state.items()}
    net.load_state_dict(file_state, strict=True)
    loaded = net.state_dict()
    assert all(torch.equal(loaded[k], file_state[k]) for k in file_state), "values, not just names, must arrive"
    assert len(file_state) == 296


def test_the_xray_model_keeps_the_pretrained_backbone():
    file_state = load_imagenet_state()
    model = XrayNet("full", input_size=64, pretrained=True)
    got = {f"{k}": v for k, v in model.backbone.state_dict().items()}
    missing = [k for k in file_state if not k.startswith("_fc.") and not torch.equal(got[k], file_state[k])]
    assert missing == []


def _embeddings(model: XrayNet, images: np.ndarray) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return model.embed(torch.from_numpy(images)).numpy()


def test_pretrained_features_separate_the_classes_far_better_than_random():
    """kNN (cosine) AUC of test embeddings against 300 training embeddings, ImageNet vs random weights."""
    from sklearn.neighbors import KNeighborsClassifier

    from engine.data.medmnist import load_pneumoniamnist
    from engine.vision.train import subset_indices

    root = shared_data_or_skip("medmnist", "pneumoniamnist.npz").parents[1]
    data = load_pneumoniamnist(root=root, allow_download=False)
    tr = subset_indices(data.labels["train"], 300, seed=0)
    te = subset_indices(data.labels["test"], 200, seed=0)
    aucs = {}
    for name, pretrained in (("imagenet", True), ("random", False)):
        torch.manual_seed(0)
        model = XrayNet("linear-probe", input_size=96, pretrained=pretrained)
        f_tr, f_te = _embeddings(model, data.images["train"][tr]), _embeddings(model, data.images["test"][te])
        knn = KNeighborsClassifier(10, metric="cosine").fit(f_tr, data.labels["train"][tr])
        aucs[name] = roc_auc_score(data.labels["test"][te], knn.predict_proba(f_te)[:, 1])
    assert aucs["imagenet"] > 0.9, aucs
    assert aucs["imagenet"] > aucs["random"] + 0.2, aucs


def test_strategies_freeze_what_they_say():
    lp, part, full = (XrayNet(s, pretrained=False) for s in ("linear-probe", "partial", "full"))
    n_train = {}
    for name, m in (("linear-probe", lp), ("partial", part), ("full", full)):
        groups = m.param_groups(1e-3, 1e-4, 0.0)
        n_train[name] = sum(p.numel() for g in groups for p in g["params"])
        if name == "full":
            assert [g["lr"] for g in groups] == [1e-3, 1e-4], "the backbone learns 10x slower than the head"
    assert n_train["linear-probe"] == 1281  # 1280 weights + bias
    assert n_train["linear-probe"] < n_train["partial"] < n_train["full"]
    part.train()
    assert not part.backbone._blocks[0].training and part.backbone._blocks[-1].training, "frozen BN stays in eval"


def test_partial_training_leaves_the_frozen_blocks_untouched():
    torch.manual_seed(0)
    m = XrayNet("partial", input_size=32, pretrained=True)
    opt = torch.optim.AdamW(m.param_groups(1e-2, 1e-2, 0.0))
    before = {k: v.clone() for k, v in m.state_dict().items()}
    m.train()
    x = torch.randint(0, 255, (8, 28, 28), dtype=torch.uint8)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(m(x), torch.tensor([0.0, 1.0] * 4))
    loss.backward()
    opt.step()
    after = m.state_dict()
    assert torch.equal(after["backbone._blocks.3._depthwise_conv.weight"], before["backbone._blocks.3._depthwise_conv.weight"])
    assert torch.equal(after["backbone._blocks.3._bn1.running_mean"], before["backbone._blocks.3._bn1.running_mean"])
    assert not torch.equal(after["backbone._blocks.15._project_conv.weight"], before["backbone._blocks.15._project_conv.weight"])
    assert not torch.equal(after["head.weight"], before["head.weight"])


def test_grad_cam_is_a_normalised_map_over_the_input():
    torch.manual_seed(0)
    m = XrayNet("full", input_size=64, pretrained=True).eval()
    img = np.zeros((28, 28), np.uint8)
    img[4:14, 4:14] = 255  # a bright patch
    heat, p = grad_cam(m, img, target=1)
    assert heat.shape == (28, 28) and 0.0 <= heat.min() and heat.max() == pytest.approx(1.0)
    assert 0.0 < p < 1.0
    heat_n, _ = grad_cam(m, img, target=0)
    assert not np.allclose(heat, heat_n), "the two classes are explained differently"
