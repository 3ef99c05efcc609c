"""``assay forget``: delete a data subject's rows on demand, and find every copy of them."""
