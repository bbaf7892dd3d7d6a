"""A PyTorch training loop for tabular data (an MLP), checkpointed through state_dicts. torch is imported lazily."""

from __future__ import annotations

from typing import Any

from greenpipe.components.spot_train.train_data import TrainData, evaluate
from greenpipe.errors import GreenpipeError


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise GreenpipeError("spot_train: estimator TorchMLP* needs torch: pip install 'greenpipe[torch]'") from exc
    return torch


ACTIVATIONS = ("relu", "tanh", "sigmoid")


def _net(n_in: int, hidden: list[int], n_out: int, activation: str = "relu") -> Any:
    nn = _torch().nn
    make = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[activation]
    layers: list[Any] = []
    for width in hidden:
        layers += [nn.Linear(n_in, width), make()]
        n_in = width
    layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


class TorchState:
    """Network + optimizer + scaler; pickles as state_dicts so a checkpoint never depends on object identity."""

    def __init__(self, config: dict[str, Any], scaler: Any, classes: Any):
        torch = _torch()
        self.config, self.scaler, self.classes = config, scaler, classes
        self.net = _net(config["n_in"], config["hidden"], config["n_out"], config.get("activation", "relu"))
        self.min_gradient_mean_abs: float | None = None  # of the last epoch; a measurement, not checkpointed
        optim = torch.optim.Adam if config["solver"] == "adam" else torch.optim.SGD
        self.opt = optim(self.net.parameters(), lr=config["lr"], weight_decay=config["alpha"])

    def __getstate__(self) -> dict[str, Any]:
        # Tensors as numpy arrays: torch pickles a tensor as a torch.save archive that carries a fresh random
        # serialization id, so the same weights would never give the same bytes.
        return {
            "config": self.config,
            "scaler": self.scaler,
            "classes": self.classes,
            "net": _as_numpy(self.net.state_dict()),
            "opt": _as_numpy(self.opt.state_dict()),
        }

    def __setstate__(self, saved: dict[str, Any]) -> None:
        self.__init__(saved["config"], saved["scaler"], saved["classes"])  # type: ignore[misc]
        self.net.load_state_dict(_as_tensors(saved["net"]))
        self.opt.load_state_dict(_as_tensors(saved["opt"]))


def _as_numpy(value: Any) -> Any:
    torch = _torch()
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().copy()
    if isinstance(value, dict):
        return type(value)((k, _as_numpy(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_as_numpy(v) for v in value)
    return value


def _as_tensors(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        return _torch().from_numpy(value.copy())
    if isinstance(value, dict):
        return type(value)((k, _as_tensors(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_as_tensors(v) for v in value)
    return value


class TorchTabularModel:
    """A fitted torch MLP with the sklearn predict / predict_proba contract."""

    def __init__(self, state: TorchState):
        self.state = state
        self.classes_ = state.classes

    def _forward(self, X: Any) -> Any:
        torch = _torch()
        with torch.no_grad():
            return self.state.net(torch.as_tensor(self.state.scaler.transform(X), dtype=torch.float32))

    def predict_proba(self, X: Any) -> Any:
        return _torch().softmax(self._forward(X).double(), dim=1).numpy()

    def predict(self, X: Any) -> Any:
        out = self._forward(X)
        if self.classes_ is None:
            return out[:, 0].numpy().astype("float64")
        return self.classes_[out.argmax(1).numpy()]


class TorchTrainer:
    """Minibatch training, one pass per epoch; weights seeded by `seed`, batch order by (seed, epoch)."""

    def __init__(self, name: str, task: str, params: dict[str, Any], seed: int):
        self.name, self.task, self.seed = name, task, seed
        known = {
            "hidden_layer_sizes": [64],
            "learning_rate_init": 1e-3,
            "batch_size": 64,
            "solver": "adam",
            "alpha": 0.0,
            "activation": "relu",
        }
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise GreenpipeError(f"spot_train: {name} does not take {unknown}; it takes {sorted(known)}")
        self.params = {**known, **params}
        if self.params["solver"] not in ("adam", "sgd"):
            raise GreenpipeError(f"spot_train: solver={self.params['solver']!r} must be 'adam' or 'sgd'")
        if self.params["activation"] not in ACTIVATIONS:
            raise GreenpipeError(
                f"spot_train: activation={self.params['activation']!r} must be one of {', '.join(ACTIVATIONS)}"
            )
        _torch()

    def init_state(self, data: TrainData, warm: Any = None) -> TorchState:
        import numpy as np
        from sklearn.preprocessing import StandardScaler

        if warm is not None:
            if not isinstance(warm, TorchTabularModel):
                raise GreenpipeError(f"spot_train: warm_start model is a {type(warm).__name__}, not {self.name}")
            return warm.state
        torch = _torch()
        torch.manual_seed(self.seed)
        classes = np.unique(data.y) if self.task == "classification" else None
        config = {
            "n_in": data.X.shape[1],
            "hidden": list(self.params["hidden_layer_sizes"]),
            "n_out": len(classes) if classes is not None else 1,
            "solver": self.params["solver"],
            "lr": float(self.params["learning_rate_init"]),
            "alpha": float(self.params["alpha"]),
            "activation": self.params["activation"],
        }
        return TorchState(config, StandardScaler().fit(data.X), classes)

    def epoch(self, state: TorchState, epoch: int, data: TrainData) -> TorchState:
        import numpy as np

        torch = _torch()
        X = torch.as_tensor(state.scaler.transform(data.X), dtype=torch.float32)
        if self.task == "classification":
            y = torch.as_tensor(np.searchsorted(state.classes, data.y), dtype=torch.long)
            loss_fn: Any = torch.nn.functional.cross_entropy
        else:
            y = torch.as_tensor(data.y, dtype=torch.float32)[:, None]
            loss_fn = torch.nn.functional.mse_loss
        order = torch.as_tensor(np.random.default_rng([self.seed, epoch]).permutation(len(y)))
        # trainable weights only: a frozen layer has no gradient and is not vanishing
        weights = [p for name, p in state.net.named_parameters() if name.endswith("weight") and p.requires_grad]
        gradient_sums = torch.zeros(len(weights), dtype=torch.float64)
        batches = 0
        state.net.train()
        for start in range(0, len(y), int(self.params["batch_size"])):
            idx = order[start : start + int(self.params["batch_size"])]
            state.opt.zero_grad()
            loss_fn(state.net(X[idx]), y[idx]).backward()
            if weights:
                with torch.no_grad():  # per layer mean |gradient|, for VanishingGradient
                    gradient_sums += torch.stack([w.grad.abs().mean().double() for w in weights])
            batches += 1
            state.opt.step()
        state.net.eval()
        state.min_gradient_mean_abs = float((gradient_sums / max(batches, 1)).min()) if weights else None
        return state

    def metrics(self, state: TorchState, data: TrainData) -> dict[str, float]:
        measured = evaluate(self.task, self.to_model(state), data)
        if state.min_gradient_mean_abs is not None:
            measured["min_gradient_mean_abs"] = state.min_gradient_mean_abs
        return measured

    def to_model(self, state: TorchState) -> TorchTabularModel:
        return TorchTabularModel(state)
