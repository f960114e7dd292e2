"""deltaprop's scikit-learn estimator inside a Pipeline with feature scaling, tuned with
cross-validation.

    python examples/sklearn_pipeline.py
"""
import sys

try:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV, train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
except ImportError:
    sys.exit("this example needs scikit-learn: pip install scikit-learn")
try:
    from deltaprop.sklearn import MLPClassifier
except ImportError as exc:
    print(f"skipped: deltaprop.sklearn is not available in this installation ({exc})")
    sys.exit(0)

X, y = load_digits(return_X_y=True)                    # (1797, 64), labels 0..9
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

classifier = MLPClassifier(hidden_layer_sizes=(64,), learning_rate_init=0.01, max_iter=60, random_state=0)
pipeline = make_pipeline(StandardScaler(), classifier)
search = GridSearchCV(pipeline, {"mlpclassifier__alpha": [1e-4, 1e-2]}, cv=3)
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(f"cross-validated accuracy {search.best_score_:.4f}, test accuracy {search.score(X_test, y_test):.4f}")
