//! Renderers of a plan: text, markdown, json.
