"""The hooks through which a training method shapes one training iteration (`--phase train`).

A method family with a training mode of its own (gradient_filter, sparse_update, mobiletl,
comet, smartdeal) exports `TRAINING`, a subclass of `TrainingMethod`, from its
`workloads/methods/<family>/__init__.py`; every other method trains as the baseline does
(this class as it is). workloads/training.py's `iteration_ops` and
workloads/training_memory.py's `peak_memory` call these hooks and nothing else of a method,
so no list of method names is kept here or there:

- `trained_parts(layers)`: per layer, the part of it whose weights get a gradient (the layer,
  a slice of its output channels, or None); nothing below the first trained layer computes
  a gradient;
- `bias_parts(layers, trained)`: per layer, the part whose biases get a gradient (the trained
  parts' by default); the backward reaches down to the lowest layer with either;
- `forward_ops(layer, part, arch, training, input_gradient)`: ops the method adds to the
  forward (pooling or compressing what the layer keeps);
- `backward(layer, part, arch, training, input_gradient)`: the layer's backward ops
  [(phase, op)] (phases "dX", "dW", "update");
- `kept_bits(layer, part, arch, training)`: the bits the layer keeps for its backward, asked
  for the layers that keep something (training_memory.keeps_input);
- `trained_parameters(layer, part)`: how many trained parameters `part` has, each with a
  gradient and the optimizer's state resident (training_memory): its weights by default;
  SmartDeal's B entries and Ce nonzeros;
- `backward_scratch_bits(layer, part, arch, training)`: bits the layer's backward step holds
  besides dY and dX (0 by default; SmartDeal's dense dW before it is reduced to dB and dCe).

A method's options (`--filter-patch`, `--train-policy`, `--train-blocks`,
`--compress-ratio`) are declared once, as its family's `OPTIONS` (workloads/method_options.py);
the hooks get them in `options`, over their defaults, and an option the method does not take
is refused. Under `--phase infer` a training method runs the baseline's forward: its
transform is the baseline's, and what it changes happens in the backward (documented in
README). SmartDeal is not training-only: its forward is its inference's, and its hooks keep
the weights decomposed through the backward and the update. The biases of a trained part
(workloads/training.py, `bias_ops`) are added by `iteration_ops` whatever the hooks do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dlaforge.errors import SpecError

from .layer import Layer
from .method_options import option_flag, options_of
from .training import has_weights, plain_backward, weight_elements


@dataclass(frozen=True)
class TrainingMethod:
    """Training as workloads/training.py writes it: every weight trained, every kept input at
    its width. Subclasses override the hooks they change (module doc)."""

    name: str = "baseline"
    options: dict = field(default_factory=dict, hash=False)

    GRAD_BITS = None        # the gradients' width it trains at (None: Training's)

    def __post_init__(self):
        defaults = {option.name: option.default for option in options_of(self.name)}
        unknown = sorted(set(self.options) - set(defaults))
        if unknown:
            takes = ", ".join(option_flag(o) for o in defaults) or "none"
            raise SpecError(f"{option_flag(unknown[0])} is not an option of method "
                            f"{self.name!r} (its training options: {takes})")
        object.__setattr__(self, "options", {**defaults, **self.options})
        self.check()

    def check(self) -> None:
        """Validate `options` (SpecError)."""

    def trained_parts(self, layers) -> list:
        return [layer if has_weights(layer) else None for layer in layers]

    def bias_parts(self, layers, trained: list) -> list:
        """Per layer, the part whose biases get a gradient (None: none): the trained parts'
        by default; the sparse update also trains the biases of layers whose weights it
        leaves frozen."""
        return trained

    def forward_ops(self, layer: Layer, part, arch, training, input_gradient: bool) -> list:
        return []

    def backward(self, layer: Layer, part, arch, training, input_gradient: bool) -> list:
        return plain_backward(layer, part, arch, training, input_gradient)

    def kept_bits(self, layer: Layer, part, arch, training) -> int:
        from .training_memory import kept_input_bits
        return kept_input_bits(layer, part, arch)

    def trained_parameters(self, layer: Layer, part) -> int:
        return 0 if part is None else weight_elements(part)

    def backward_scratch_bits(self, layer: Layer, part, arch, training) -> int:
        return 0


def training_hooks(method: str, options: dict) -> TrainingMethod:
    """The training hooks of registered method `method` with `options`."""
    from .methods import METHODS
    found = METHODS.get(method)
    if found is None:
        raise SpecError(f"unknown method {method!r}; choose from {', '.join(sorted(METHODS))}")
    from importlib import import_module
    family = import_module(f"{__package__}.methods.{found.family}")
    return getattr(family, "TRAINING", TrainingMethod)(name=method, options=options)


def positive_option(options: dict, name: str, kind=int):
    """`options[name]` as a positive `kind` (SpecError naming its flag otherwise)."""
    value = options[name]
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or (kind is int and number != value) or number <= 0:
        raise SpecError(f"{option_flag(name)} must be a positive "
                        f"{'integer' if kind is int else 'number'}, not {value!r}")
    return number
