"""Trainer configuration: YAML validated into dataclasses with the agent's own machinery.

Why reuse :mod:`agent.config`: one validator, one set of messages (unknown keys and wrong types name
the key path and file), one ``--set dotted.key=value`` syntax for both programs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from agent.config import EvidenceSpec
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
    shifted_rows: Literal["drop", "keep"] = doc(
        "Edge-IIoTset rows whose frame.time holds a bare number (every field in the wrong column, as in the "
        "published raw MITM_attack.csv): 'drop' them, or 'keep' them as read (to audit the defect itself); "
        "counted in the load report either way", "drop")
    missing: Literal["zero", "drop"] = doc(
        "empty cells: 'zero' (the project encoding, what the agent sees) or 'drop' the row (authors)", "zero")
    target: str | None = doc("label column; default Attack_type (Edge-IIoTset), specific_class (CICIoV2024)", None)
    label_column: str | None = doc("feature CSVs: column holding the label", None)
    labels_file: str | None = doc("feature CSVs: file with one label per row (or a CSV with a 'label' column)", None)
    group_column: str | None = doc("column naming the capture/session of a row, for grouped splits", None)
    chunk_rows: int = doc("rows read per chunk (bounded memory on the 2.2M-row file)", 200_000)
    max_rows: int | None = doc("stop after this many rows (quick experiments)", None)
    max_vocabulary: int = doc("most one-hot values kept per column (most frequent in train)", 64)
    feature_kind: str | None = doc(
        "agent feature kind of feature CSVs (edge-iiotset-context, can-temporal, ...); default: the kind whose "
        "columns the header holds", None)


@dataclass
class SplitConfig:
    """Train/validation/test split, done before anything is fitted."""

    method: Literal["stratified", "grouped", "ordered"] = doc(
        "stratified by class, grouped by data.group_column, or ordered (contiguous blocks, for windows)",
        "stratified")
    val_fraction: float = doc("fraction of rows for validation (early stopping)", 0.1)
    test_fraction: float = doc("fraction of rows for the final test", 0.2)
    seed: int = doc("split seed", 42)
    val_groups: list[str] = doc("grouped: the groups (captures) that form validation; with test_groups, no draw",
                                factory=list)
    test_groups: list[str] = doc("grouped: the groups (captures) that form the test partition", factory=list)


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
    window_records: Literal["all", "protocol-fields"] = doc(
        "window layout: which records the agent's windows hold (the manifest's window.records)", "all")
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
    class_weight_power: float = doc(
        "class weights are (inverse frequency) ** power, normalised to a mean of 1 per example: 1 is full inverse "
        "weighting, 0.5 tempers it (rare classes kept without making the model eager to call them)", 1.0)
    reduce_lr_patience: int = doc("halve the learning rate after this many epochs without a better "
                                  "validation loss (0 = off)", 0)
    deterministic: bool = doc("TensorFlow op determinism (re-runs land within the same figures)", False)
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
class WindowsConfig:
    """How windows are cut from rows and labelled (``model.layout: window``)."""

    label: Literal["last", "content"] = doc(
        "'last': a window takes its last row's label; 'content': the attack class holding the most of its rows, "
        "when it holds at least min_attack_fraction of them (or min_attack_records), else benign", "last")
    min_attack_fraction: float = doc("content labels: least share of a window's rows an attack class needs", 0.25)
    min_attack_records: dict[str, int] = doc("content labels: per class, least rows instead of the share",
                                             factory=dict)
    train_stride: int | None = doc("stride of the training windows (more, overlapping examples); default "
                                   "model.window_stride", None)


@dataclass
class PreprocessConfig:
    """Scaling of numeric columns (fitted on train only)."""

    scale: Literal["std", "robust"] = doc(
        "'std': (x - mean) / std; 'robust': scale so that robust_percentile % of training values land within "
        "+-robust_target (heavy tails would otherwise set the int8 input step)", "std")
    robust_percentile: float = doc("robust scaling: percentile of |x - mean| mapped to robust_target", 95.0)
    robust_target: float = doc("robust scaling: where that percentile lands", 3.0)
    clip: float | None = doc("clip preprocessed inputs to +-clip in training (the int8 input saturates the same "
                             "way in the agent); none = no clipping", None)


@dataclass
class ThresholdConfig:
    """Per-class alert thresholds written into the bundle."""

    method: Literal["fixed", "validation"] = doc(
        "'fixed': every class at 'fixed'; 'validation': just above the highest probability any benign validation "
        "window gives the class (int8 bundle, evidence floors applied), within floor..ceiling", "fixed")
    fixed: float = doc("threshold of every class with method fixed", 0.5)
    margin: float = doc("validation: added to the highest benign probability", 0.02)
    floor: float = doc("validation: lowest threshold", 0.6)
    ceiling: float = doc("validation: highest threshold", 0.97)


@dataclass
class AlertsConfig:
    """The alert policy a bundle carries besides thresholds: evidence floors and confirmation."""

    evidence: dict[str, EvidenceSpec] = doc(
        "per-class evidence floors, {class: {numeric feature column: least raw value}} or a list of such sets "
        "(see agent/evidence.py); classes the data lacks are left out", factory=dict)
    confirm_windows: int = doc("windows of one class from one key before an alert (manifest confirm_windows)", 1)
    confirm_span: int = doc("... within this many consecutive windows (0 = within the merge gap)", 0)
    min_confirm_windows: int = doc(
        "where validation captures can be replayed (make models): fewest windows the replay-based choice may "
        "pick; it then sets confirm_windows and confirm_span", 1)


@dataclass
class TrainerConfig:
    """The whole trainer configuration."""

    data: DataConfig = doc("data loading and cleaning", factory=DataConfig)
    split: SplitConfig = doc("partitioning", factory=SplitConfig)
    smote: SmoteConfig = doc("oversampling", factory=SmoteConfig)
    model: ModelConfig = doc("model hyperparameters", factory=ModelConfig)
    train: TrainConfig = doc("training", factory=TrainConfig)
    quantize: QuantizeConfig = doc("quantization", factory=QuantizeConfig)
    windows: WindowsConfig = doc("window cutting and labelling", factory=WindowsConfig)
    preprocess: PreprocessConfig = doc("scaling", factory=PreprocessConfig)
    thresholds: ThresholdConfig = doc("alert thresholds", factory=ThresholdConfig)
    alerts: AlertsConfig = doc("evidence floors and confirmation", factory=AlertsConfig)


def load_trainer_config(path: str | os.PathLike[str] | None = None, overrides: Sequence[str] = ()) -> TrainerConfig:
    """YAML file (optional) plus ``--set`` overrides -> validated :class:`TrainerConfig`."""
    raw = read_yaml(path) if path is not None else {}
    raw = apply_overrides(raw, overrides)
    return build(TrainerConfig, raw, f"{path}: " if path is not None else "trainer config: ")
