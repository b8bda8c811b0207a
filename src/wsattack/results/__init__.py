from wsattack.results.table import ResultTable

__all__ = ["ResultTable"]
