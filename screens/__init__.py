"""The Textual UI. Thin: every decision is made by the controllers in wizard/."""
