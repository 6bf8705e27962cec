"""Trainer configuration: YAML validated into dataclasses with the agent's own machinery.

Why reuse :mod:`agent.config`: one validator, one set of messages (unknown keys and wrong types name
the key path and file), one ``--set dotted.key=value`` syntax for both programs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from agent.schema import apply_overrides, build, doc, read_yaml


@dataclass
class DataConfig:
    """Which rows and columns are read, and how they are cleaned."""

    recipe: Literal["authors", "none"] = doc(
        "Edge-IIoTset: 'authors' drops the dataset authors' identifier/payload columns and one-hot "
        "encodes their categorical columns; 'none' keeps every column", "authors")
    exclude_shortcuts: bool = doc(
        "drop the known shortcut fields (dns.qry.name.len, mqtt.topic, mqtt.protoname, mqtt.conack.flags)", False)
    exclude: list[str] = doc("further columns to drop", factory=list)
    dedupe: bool | None = doc(
        "drop duplicate rows (features + label) after dropping identifier columns; default: yes for "
        "Edge-IIoTset (authors' recipe), no for CICIoV2024 (the paper's protocol; the report adds dedup figures)",
        None)
    missing: Literal["zero", "drop"] = doc(
        "empty cells: 'zero' (the project encoding, what the agent sees) or 'drop' the row (authors)", "zero")
    target: str | None = doc("label column; default Attack_type (Edge-IIoTset), specific_class (CICIoV2024)", None)
    label_column: str | None = doc("feature CSVs: column holding the label", None)
    labels_file: str | None = doc("feature CSVs: file with one label per row (or a CSV with a 'label' column)", None)
    group_column: str | None = doc("column naming the capture/session of a row, for grouped splits", None)
    chunk_rows: int = doc("rows read per chunk (bounded memory on the 2.2M-row file)", 200_000)
    max_rows: int | None = doc("stop after this many rows (quick experiments)", None)
    max_vocabulary: int = doc("most one-hot values kept per column (most frequent in train)", 64)


@dataclass
class SplitConfig:
    """Train/validation/test split, done before anything is fitted."""

    method: Literal["stratified", "grouped", "ordered"] = doc(
        "stratified by class, grouped by data.group_column, or ordered (contiguous blocks, for windows)",
        "stratified")
    val_fraction: float = doc("fraction of rows for validation (early stopping)", 0.1)
    test_fraction: float = doc("fraction of rows for the final test", 0.2)
    seed: int = doc("split seed", 42)


@dataclass
class SmoteConfig:
    """Oversampling of the training partition only."""

    enabled: bool = doc("apply SMOTE to the training partition", True)
    strategy: str = doc("imbalanced-learn sampling_strategy ('auto', 'not majority', 'minority', ...)", "auto")
    k_neighbors: int = doc("SMOTE neighbours (reduced automatically for tiny classes)", 5)
    max_per_class: int | None = doc("cap on each class after oversampling (memory); none = majority size", None)


@dataclass
class ModelConfig:
    """The hybrid ResNet-1D + BiGRU + multi-head attention classifier."""

    layout: Literal["record", "window"] = doc("record: F features as a length-F sequence; window: W x F", "record")
    window_size: int = doc("window layout: consecutive rows per input", 16)
    window_stride: int = doc("window layout: rows between window starts", 1)
    window_key: Literal["global", "flow", "channel"] = doc("window layout: how the agent keys windows", "global")
    res_blocks: int = doc("residual 1-D convolution blocks", 2)
    filters: int = doc("convolution filters", 64)
    kernel_size: int = doc("convolution kernel size", 3)
    seq_pool: int = doc(
        "extra max-pooling factor before the GRU (parameter-free: shortens the unrolled GRU and the "
        "attention sequence: the paper's size then meets <= 100 us/instance batched on 2 cores; 1 = off)", 2)
    gru_units: int = doc("GRU units per direction", 64)
    heads: int = doc("attention heads", 4)
    key_dim: int = doc("attention key dimension", 32)
    dropout: float = doc("dropout rate", 0.3)
    dense_units: list[int] = doc("dense layers before the softmax", factory=lambda: [128])
    use_residual: bool = doc("residual convolution blocks (ablation switch)", True)
    use_gru: bool = doc("bidirectional GRU (ablation switch)", True)
    use_attention: bool = doc("multi-head self-attention (ablation switch)", True)


@dataclass
class TrainConfig:
    """The optimisation loop."""

    epochs: int = doc("most epochs", 30)
    batch_size: int = doc("batch size", 256)
    learning_rate: float = doc("Adam learning rate", 1e-3)
    patience: int = doc("early stopping patience on validation loss", 5)
    class_weights: bool = doc("weight the loss by inverse class frequency", False)
    seed: int = doc("seed of numpy, Python and TensorFlow", 42)
    verbose: int = doc("Keras progress: 0 silent, 1 bar, 2 line per epoch", 1)


@dataclass
class QuantizeConfig:
    """Post-training quantization and its acceptance gate."""

    representative_samples: int = doc("training rows used to calibrate int8 ranges", 500)
    calibration_sets: int = doc(
        "calibration sets drawn from training (seeds seed, seed+1, ...); the one whose int8 model tracks "
        "float best on the validation partition is kept (the test partition only gates)", 1)
    min_agreement: float = doc("fail when int8 and float predictions agree on less than this", 0.99)
    max_f1_drop: float = doc("fail when macro-F1 drops by more than this (0.005 = 0.5 points)", 0.005)


@dataclass
class TrainerConfig:
    """The whole trainer configuration."""

    data: DataConfig = doc("data loading and cleaning", factory=DataConfig)
    split: SplitConfig = doc("partitioning", factory=SplitConfig)
    smote: SmoteConfig = doc("oversampling", factory=SmoteConfig)
    model: ModelConfig = doc("model hyperparameters", factory=ModelConfig)
    train: TrainConfig = doc("training", factory=TrainConfig)
    quantize: QuantizeConfig = doc("quantization", factory=QuantizeConfig)


def load_trainer_config(path: str | os.PathLike[str] | None = None, overrides: Sequence[str] = ()) -> TrainerConfig:
    """YAML file (optional) plus ``--set`` overrides -> validated :class:`TrainerConfig`."""
    raw = read_yaml(path) if path is not None else {}
    raw = apply_overrides(raw, overrides)
    return build(TrainerConfig, raw, f"{path}: " if path is not None else "trainer config: ")
