"""vgcourse: the experiments of an interactive course on vanishing and exploding gradients."""

# The experiment modules of the chapters, importable as vgcourse.<name>.
from . import (
    architectures,
    case_studies,
    data,
    exploding,
    language,
    memory,
    meta,
    normalization,
    plots,
    precision,
    pretraining,
    recurrent,
    residual,
    saturation,
    theory,
    transfer,
)
from .activations import ACTIVATIONS, Activation, get_activation
from .checking import Feedback, check, exercises
from .doctor import Report, diagnose
from .exploring import Explorer, explore
from .init import initialize
from .models import MLP, mlp
from .monitor import Monitor
from .probe import GradientFlow, gradient_flow, jacobian_spectrum, preactivation_moments
from .recurrent import SequenceModel, gradient_through_time, sequence_model
from .reproducible import default_device, setup
from .training import History, train

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "Explorer",
    "Feedback",
    "GradientFlow",
    "History",
    "MLP",
    "Monitor",
    "Report",
    "SequenceModel",
    "architectures",
    "case_studies",
    "check",
    "data",
    "diagnose",
    "exercises",
    "exploding",
    "explore",
    "get_activation",
    "gradient_flow",
    "gradient_through_time",
    "initialize",
    "jacobian_spectrum",
    "language",
    "memory",
    "meta",
    "preactivation_moments",
    "mlp",
    "normalization",
    "plots",
    "precision",
    "pretraining",
    "recurrent",
    "residual",
    "saturation",
    "sequence_model",
    "setup",
    "default_device",
    "theory",
    "train",
    "transfer",
]
