"""Mirror of the e-commerce platform (catalogue, orders, events); filled by the commerce issue."""
