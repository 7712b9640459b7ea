"""vgcourse: the experiments of an interactive course on vanishing and exploding gradients."""

from . import data, plots, theory
from .activations import ACTIVATIONS, Activation, get_activation
from .check import Feedback, check, exercises
from .doctor import Report, diagnose
from .explore import Explorer, explore
from .init import initialize
from .models import MLP, mlp
from .probe import GradientFlow, gradient_flow
from .probe import jacobian_spectrum, preactivation_moments
from .reproducible import setup
from .train import History, train
from . import exploding, precision  # chapter 4
from . import saturation  # chapter 2
from . import recurrent  # chapter 7
from . import normalization, residual  # chapters 5 and 6
from .recurrent import SequenceModel, gradient_through_time, sequence_model
from . import case_studies, pretraining  # chapter 9
from . import language  # chapter 10

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
    "SequenceModel",
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
    "theory",
    "train",
]
