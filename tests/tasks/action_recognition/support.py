"""What the action recognition tests share: a tiny published model, and checks of outputs against
descriptors of Vertex's messages (unknown fields rejected).

Vertex's ``VideoActionRecognitionPredictionResult`` and ``VideoActionRecognitionMetrics`` are not in
``google-cloud-aiplatform``'s installed protos here (the metrics exist only as the public schema YAML),
so their descriptors are built below from Vertex's published definitions: the field names, JSON names
and types of ``google.cloud.aiplatform.v1.schema.predict.prediction.VideoActionRecognitionPredictionResult``
and of ``video_action_recognition_metrics_1.0.0.yaml``.
"""

import json

from google.protobuf import descriptor_pb2, descriptor_pool, duration_pb2, json_format, message_factory, wrappers_pb2

from automl_video import storage
from automl_video.data.dataset import AnnotationSpec
from automl_video.modeling.metadata import InputSpec, ModelMetadata, ModelType, save_metadata

LABELS = ["jump", "spin"]
ACTION_SPEC = InputSpec(num_frames=4, height=32, width=32)
PREDICTION_TYPE = "action_recognition"

_F = descriptor_pb2.FieldDescriptorProto


def _message(file_proto, name: str, fields: list[tuple[str, str, int, str]]) -> None:
    message = file_proto.message_type.add(name=name)
    for number, (field_name, json_name, kind, type_name) in enumerate(fields, start=1):
        repeated = kind < 0
        field = message.field.add(
            name=field_name,
            json_name=json_name,
            number=number,
            type=abs(kind),
            label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL,
        )
        if type_name:
            field.type_name = type_name


def _vertex_messages() -> dict:
    pool = descriptor_pool.DescriptorPool()
    for dependency in (duration_pb2, wrappers_pb2):
        pool.AddSerializedFile(dependency.DESCRIPTOR.serialized_pb)
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="tests/vertex_action_recognition.proto",
        package="google.cloud.aiplatform.v1.schema",
        syntax="proto3",
        dependency=["google/protobuf/duration.proto", "google/protobuf/wrappers.proto"],
    )
    duration, float_value = ".google.protobuf.Duration", ".google.protobuf.FloatValue"
    _message(
        file_proto,
        "VideoActionRecognitionPredictionResult",
        [
            ("id", "id", _F.TYPE_STRING, ""),
            ("display_name", "displayName", _F.TYPE_STRING, ""),
            ("time_segment_start", "timeSegmentStart", _F.TYPE_MESSAGE, duration),
            ("time_segment_end", "timeSegmentEnd", _F.TYPE_MESSAGE, duration),
            ("confidence", "confidence", _F.TYPE_MESSAGE, float_value),
        ],
    )
    _message(
        file_proto,
        "ConfidenceMetrics",
        [
            ("confidence_threshold", "confidenceThreshold", _F.TYPE_FLOAT, ""),
            ("recall", "recall", _F.TYPE_FLOAT, ""),
            ("precision", "precision", _F.TYPE_FLOAT, ""),
            ("f1_score", "f1Score", _F.TYPE_FLOAT, ""),
        ],
    )
    package = ".google.cloud.aiplatform.v1.schema"
    _message(
        file_proto,
        "VideoActionMetrics",
        [
            ("precision_window_length", "precisionWindowLength", _F.TYPE_MESSAGE, duration),
            ("mean_average_precision", "meanAveragePrecision", _F.TYPE_FLOAT, ""),
            ("confidence_metrics", "confidenceMetrics", -_F.TYPE_MESSAGE, f"{package}.ConfidenceMetrics"),
        ],
    )
    _message(
        file_proto,
        "VideoActionRecognitionMetrics",
        [
            ("evaluated_action_count", "evaluatedActionCount", _F.TYPE_INT32, ""),
            ("video_action_metrics", "videoActionMetrics", -_F.TYPE_MESSAGE, f"{package}.VideoActionMetrics"),
        ],
    )
    pool.Add(file_proto)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"google.cloud.aiplatform.v1.schema.{name}"))
        for name in ("VideoActionRecognitionPredictionResult", "VideoActionRecognitionMetrics")
    }


VERTEX = _vertex_messages()


def checked(message_name: str, doc: dict):
    """``doc`` parsed as the Vertex message (unknown fields rejected)."""
    return json_format.Parse(json.dumps(doc), VERTEX[message_name](), ignore_unknown_fields=False)


def independent_matches(predictions, truths, window):
    """For each prediction, best first: is there an unused ground truth of its video and label within
    window/2? Take the closest. Returns (confidence, label, hit) in that order."""
    used = [False] * len(truths)
    outcome = []
    for p in sorted(predictions, key=lambda p: (-p.confidence, p.video, p.time, p.label)):
        best, best_distance = None, None
        for j, t in enumerate(truths):
            if used[j] or t.video != p.video or t.label != p.label:
                continue
            distance = abs(t.time - p.time)
            if distance <= window / 2 + 1e-9 and (best is None or distance < best_distance):
                best, best_distance = j, distance
        if best is not None:
            used[best] = True
        outcome.append((p.confidence, p.label, best is not None))
    return outcome


def independent_ap(outcome, truth_count):
    """Average precision: the precision at each hit, summed, over the number of ground truths."""
    hits, total = 0, 0.0
    for rank, (_, _, hit) in enumerate(outcome, start=1):
        if hit:
            hits += 1
            total += hits / rank
    return total / truth_count if truth_count else 0.0


def publish_action_model(
    folder, spec: InputSpec, annotation_specs: list[AnnotationSpec] | None = None, dataset_uri: str = "", seed: int = 0
) -> str:
    """A published model folder: the real action network with deterministic untrained weights."""
    import keras

    from automl_video.modeling.loading import WEIGHTS_FILE, build_network

    specs = annotation_specs or [AnnotationSpec(str(i + 1), name) for i, name in enumerate(LABELS)]
    metadata = ModelMetadata(
        ModelType.MOBILE_VERSATILE_1.value,
        specs,
        spec,
        display_name="tiny actions",
        prediction_type=PREDICTION_TYPE,
        dataset_uri=dataset_uri,
    )
    keras.utils.set_random_seed(seed)
    build_network(metadata).save_weights(str(folder / WEIGHTS_FILE))
    save_metadata(metadata, str(folder))
    (folder / storage.COMPLETE_MARKER).write_text("done\n")
    return str(folder)
