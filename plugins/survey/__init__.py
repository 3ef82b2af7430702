"""Resource-survey completeness (应急资源调查, 填报率): fill rates, stale records, duplicates and a fix list."""
