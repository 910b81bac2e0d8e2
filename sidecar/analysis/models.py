"""The face models installed with face_recognition_models; nothing is downloaded."""
from pathlib import Path


def check_models():
    """Names of the model files found; RuntimeError naming what is missing."""
    try:
        import face_recognition_models
    except ImportError as error:
        raise RuntimeError(f"face_recognition_models is not installed ({error}); run `make install`") from None
    paths = [
        face_recognition_models.pose_predictor_model_location(),
        face_recognition_models.pose_predictor_five_point_model_location(),
        face_recognition_models.face_recognition_model_location(),
        face_recognition_models.cnn_face_detector_model_location(),
    ]
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise RuntimeError("model file(s) missing: " + ", ".join(missing))
    return [Path(p).name for p in paths]
