"""ipywidgets 8 views over the store: runs (with comparison), models (with Promote), data
(with diff). Each also renders as a plain HTML/text table where widgets cannot."""
