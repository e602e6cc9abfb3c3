import pytest
import torch

from nas_core.analysis import symmetric_kl


def test_symmetric_kl_zero_for_equal_and_symmetric():
    gen = torch.Generator().manual_seed(0)
    p = torch.log_softmax(torch.randn(5, 3, generator=gen, dtype=torch.float64), dim=1)
    q = torch.log_softmax(torch.randn(5, 3, generator=gen, dtype=torch.float64), dim=1)
    assert symmetric_kl(p, p) == pytest.approx(0.0)
    assert symmetric_kl(p, q) == pytest.approx(symmetric_kl(q, p))
    assert symmetric_kl(p, q) > 0


def test_symmetric_kl_hand_computed():
    p = torch.tensor([[0.5, 0.5]], dtype=torch.float64).log()
    q = torch.tensor([[0.25, 0.75]], dtype=torch.float64).log()
    expected = 0.25 * torch.log(torch.tensor(3.0))
    # KL(p||q)+KL(q||p) = sum (p-q) log(p/q) = 0.25*log2 - 0.25*log(2/3) = 0.25*log3
    assert symmetric_kl(p, q) == pytest.approx(float(expected))


def test_kl_to_full_model_on_tiny_model():
    from nas_core import NetworkConfig, OneShotModel, get_space
    from nas_core.analysis import kl_to_full_model

    space = get_space("tiny")
    model = OneShotModel(space, NetworkConfig(width=4, cells_per_stack=1, in_channels=3, num_classes=5))
    gen = torch.Generator().manual_seed(0)
    archs = [space.sample(gen) for _ in range(3)]
    images = torch.randn(8, 3, 32, 32, generator=gen)
    kls = kl_to_full_model(model, archs, images, batch_size=4)
    assert len(kls) == 3
    assert all(k >= 0 for k in kls)
