"""vgcourse: the experiments of an interactive course on vanishing and exploding gradients."""

from . import data, plots, theory
from .activations import ACTIVATIONS, Activation, get_activation
from .check import Feedback, check, exercises
from .doctor import Report, diagnose
from .explore import Explorer, explore
from .init import initialize
from .models import MLP, mlp
from .probe import GradientFlow, gradient_flow
from .reproducible import setup
from .train import History, train

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "Explorer",
    "Feedback",
    "GradientFlow",
    "History",
    "MLP",
    "Report",
    "check",
    "data",
    "diagnose",
    "exercises",
    "explore",
    "get_activation",
    "gradient_flow",
    "initialize",
    "mlp",
    "plots",
    "setup",
    "theory",
    "train",
]
