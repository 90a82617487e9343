"""Files the quickstart's tools read and write, in their formats."""
