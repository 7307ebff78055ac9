"""Tables, figures and REPORT.md from the cells' metrics."""
