//! The Admin API documents `ShopifyData` sends (API 2026-10; validated
//! against Shopify's published schema in the tests). Nested connections ask
//! for one modest page; whatever does not fit is paged to the end with the
//! follow-up queries below, never dropped.

/// An order's fields. Bulk queries use the same fields with `edges { node }`
/// and no page sizes.
macro_rules! order_fields {
    ($lines:literal, $apps:literal, $ships:literal, $refunds:literal, $refund_lines:literal, $refund_ships:literal) => {
        concat!(
            "id createdAt cancelledAt closedAt test taxesIncluded customer { id } ",
            "discountApplications",
            $apps,
            " { nodes { __typename index ",
            "... on DiscountCodeApplication { code } ... on AutomaticDiscountApplication { title } ",
            "... on ManualDiscountApplication { title } ... on ScriptDiscountApplication { title } } ",
            "pageInfo { hasNextPage endCursor } } ",
            "shippingLines",
            $ships,
            " { nodes { discountedPriceSet { shopMoney { amount } } ",
            "taxLines { priceSet { shopMoney { amount } } } } pageInfo { hasNextPage endCursor } } ",
            "lineItems",
            $lines,
            " { nodes { ",
            line_fields!(),
            " } pageInfo { hasNextPage endCursor } } ",
            "refunds",
            $refunds,
            " { id processedAt refundLineItems",
            $refund_lines,
            " { nodes { ",
            refund_line_fields!(),
            " } pageInfo { hasNextPage endCursor } } ",
            "refundShippingLines",
            $refund_ships,
            " { nodes { subtotalAmountSet { shopMoney { amount } } ",
            "taxAmountSet { shopMoney { amount } } } } }"
        )
    };
}

macro_rules! line_fields {
    () => {
        concat!(
            "__typename quantity originalUnitPriceSet { shopMoney { amount } } ",
            "discountAllocations { allocatedAmountSet { shopMoney { amount } } discountApplication { index } } ",
            "taxLines { priceSet { shopMoney { amount } } } variant { id } product { id }"
        )
    };
}

macro_rules! refund_line_fields {
    () => {
        concat!(
            "__typename quantity subtotalSet { shopMoney { amount } } totalTaxSet { shopMoney { amount } } ",
            "lineItem { variant { id } product { id } }"
        )
    };
}

macro_rules! product_fields {
    () => {
        "id title productType description status"
    };
}

macro_rules! variant_fields {
    () => {
        "__typename id title sku price inventoryQuantity"
    };
}

/// The shop's currency and time zone.
pub const SHOP: &str = "query Shop { shop { currencyCode ianaTimezone } }";

/// A page of orders, each with the first page of its nested connections:
/// small, since each order's share multiplies the page's cost (about 180
/// points an order; most orders have few lines and no refund).
pub const ORDERS: &str = concat!(
    "query Orders($first: Int!, $after: String, $query: String) { ",
    "orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT) { nodes { ",
    order_fields!("(first: 5)", "(first: 5)", "(first: 2)", "(first: 2)", "(first: 3)", "(first: 1)"),
    " } pageInfo { hasNextPage endCursor } } }"
);

/// The rest of one order's lines.
pub const ORDER_LINES: &str = concat!(
    "query OrderLines($id: ID!, $first: Int!, $after: String) { order(id: $id) { ",
    "lineItems(first: $first, after: $after) { nodes { ",
    line_fields!(),
    " } pageInfo { hasNextPage endCursor } } } }"
);

/// The rest of one order's discount applications.
pub const ORDER_DISCOUNTS: &str = concat!(
    "query OrderDiscounts($id: ID!, $first: Int!, $after: String) { order(id: $id) { ",
    "discountApplications(first: $first, after: $after) { nodes { __typename index ",
    "... on DiscountCodeApplication { code } ... on AutomaticDiscountApplication { title } ",
    "... on ManualDiscountApplication { title } ... on ScriptDiscountApplication { title } } ",
    "pageInfo { hasNextPage endCursor } } } }"
);

/// The rest of one order's shipping lines.
pub const ORDER_SHIPPING: &str = concat!(
    "query OrderShipping($id: ID!, $first: Int!, $after: String) { order(id: $id) { ",
    "shippingLines(first: $first, after: $after) { nodes { discountedPriceSet { shopMoney { amount } } ",
    "taxLines { priceSet { shopMoney { amount } } } } pageInfo { hasNextPage endCursor } } } }"
);

/// Every refund of one order (an order with more refunds than the page held).
pub const ORDER_REFUNDS: &str = concat!(
    "query OrderRefunds($id: ID!) { order(id: $id) { refunds { id processedAt ",
    "refundLineItems(first: 10) { nodes { ",
    refund_line_fields!(),
    " } pageInfo { hasNextPage endCursor } } ",
    "refundShippingLines(first: 5) { nodes { subtotalAmountSet { shopMoney { amount } } ",
    "taxAmountSet { shopMoney { amount } } } } } } }"
);

/// The rest of one refund's lines.
pub const REFUND_LINES: &str = concat!(
    "query RefundLines($id: ID!, $first: Int!, $after: String) { node(id: $id) { ... on Refund { ",
    "refundLineItems(first: $first, after: $after) { nodes { ",
    refund_line_fields!(),
    " } pageInfo { hasNextPage endCursor } } } } }"
);

/// Orders as a bulk operation: no variables, no page sizes, `edges { node }`.
/// `$SEARCH` is replaced by the (escaped) search string.
pub const ORDERS_BULK: &str = concat!(
    "{ orders(query: \"$SEARCH\", sortKey: CREATED_AT) { edges { node { ",
    "id createdAt cancelledAt closedAt test taxesIncluded customer { id } ",
    "discountApplications { edges { node { __typename index ",
    "... on DiscountCodeApplication { code } ... on AutomaticDiscountApplication { title } ",
    "... on ManualDiscountApplication { title } ... on ScriptDiscountApplication { title } } } } ",
    // Bulk queries allow five connections: the order's (first) shipping
    // line is read as an object.
    "shippingLine { discountedPriceSet { shopMoney { amount } } taxLines { priceSet { shopMoney { amount } } } } ",
    "lineItems { edges { node { ",
    line_fields!(),
    " } } } ",
    "refunds { id processedAt refundLineItems { edges { node { ",
    refund_line_fields!(),
    " } } } refundShippingLines { edges { node { __typename subtotalAmountSet { shopMoney { amount } } ",
    "taxAmountSet { shopMoney { amount } } } } } } } } } }"
);

/// A page of products with the first page of their variants.
pub const PRODUCTS: &str = concat!(
    "query Products($first: Int!, $after: String) { products(first: $first, after: $after) { nodes { ",
    product_fields!(),
    " variants(first: 20) { nodes { ",
    variant_fields!(),
    " } pageInfo { hasNextPage endCursor } } } pageInfo { hasNextPage endCursor } } }"
);

/// The rest of one product's variants.
pub const PRODUCT_VARIANTS: &str = concat!(
    "query ProductVariants($id: ID!, $first: Int!, $after: String) { product(id: $id) { ",
    "variants(first: $first, after: $after) { nodes { ",
    variant_fields!(),
    " } pageInfo { hasNextPage endCursor } } } }"
);

/// A page of customers.
pub const CUSTOMERS: &str = "query Customers($first: Int!, $after: String) { customers(first: $first, after: $after) { \
    nodes { id displayName defaultEmailAddress { emailAddress } } pageInfo { hasNextPage endCursor } } }";

/// Every document above, by name (the schema test validates each).
pub const ALL: &[(&str, &str)] = &[
    ("Shop", SHOP),
    ("Orders", ORDERS),
    ("OrderLines", ORDER_LINES),
    ("OrderDiscounts", ORDER_DISCOUNTS),
    ("OrderShipping", ORDER_SHIPPING),
    ("OrderRefunds", ORDER_REFUNDS),
    ("RefundLines", REFUND_LINES),
    ("Products", PRODUCTS),
    ("ProductVariants", PRODUCT_VARIANTS),
    ("Customers", CUSTOMERS),
];
