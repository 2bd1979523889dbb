"""sia_autoencoder: autoencoders, denoising autoencoders and VAEs for learning and teaching,
with an exact, tested and fast C core.

    from sia_autoencoder import Autoencoder, datasets
    X, labels = datasets.load_font()
    ae = Autoencoder([35, 25, 15, 10, 2, 10, 15, 25, 35], seed=0)
    ae.fit(X, epochs=5000)
"""
from . import callbacks, datasets, optimizers
from ._net import Activation
from ._training import TrainingDivergedError
from .autoencoder import Autoencoder
from .callbacks import (CSVLogger, EarlyStopping, LambdaCallback, LossThreshold, ModelCheckpoint,
                        PixelErrorStop, ReduceLROnPlateau, TerminateOnNaN)
from .vae import VAE
from .io import load
from . import noise
from .denoising import DenoisingAutoencoder, noise_study, optimal_decode

__version__ = "0.1.0"
__all__ = ["Autoencoder", "VAE", "Activation", "TrainingDivergedError", "EarlyStopping",
           "LossThreshold", "PixelErrorStop", "callbacks", "datasets", "optimizers", "load",
           "noise", "DenoisingAutoencoder", "noise_study", "optimal_decode", "ModelCheckpoint",
           "CSVLogger", "LambdaCallback", "ReduceLROnPlateau", "TerminateOnNaN"]
