"""What the demo store sells: categories with their brands, items, price ranges, margins and
seasons. Plain data, kept apart from the generator's stages so either reads alone."""

from __future__ import annotations

from dataclasses import dataclass

# Monthly demand multipliers, January first.
FLAT = (1.0,) * 12
WINTER_HOLIDAYS = (0.8, 0.75, 0.85, 0.9, 0.95, 0.9, 0.9, 0.95, 1.0, 1.1, 1.5, 2.4)
SUMMER = (0.6, 0.65, 0.85, 1.1, 1.35, 1.6, 1.65, 1.45, 1.05, 0.8, 0.75, 0.9)
BACK_TO_SCHOOL = (0.95, 0.85, 0.9, 0.9, 0.9, 0.9, 1.0, 1.35, 1.3, 1.0, 1.05, 1.5)
GIFTING = (0.85, 1.15, 0.95, 0.95, 1.1, 0.95, 0.9, 0.9, 0.95, 1.0, 1.25, 1.8)


@dataclass(frozen=True)
class Item:
    noun: str
    min_price: float
    max_price: float


@dataclass(frozen=True)
class CategorySpec:
    name: str
    slug: str
    sku_prefix: str
    description: str
    brands: tuple[str, ...]
    variants: tuple[str, ...]
    items: tuple[Item, ...]
    # Gross margin range (share of the price that is profit).
    margin: tuple[float, float]
    # Share of the catalog's products, and how much each of them sells relative to others.
    catalog_share: float
    demand: float
    season: tuple[float, ...]
    # Share of sales sold at a discount.
    discount_rate: float = 0.12


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        name="Electronics",
        slug="electronics",
        sku_prefix="ELE",
        description="Phones, audio, computing and accessories.",
        brands=("Voltix", "Nordwave", "Pixelon", "Auralis", "Kestrel"),
        variants=("Black", "Silver", "White", "Graphite", "Blue"),
        items=(
            Item("Wireless Earbuds", 29, 199),
            Item("Bluetooth Speaker", 25, 249),
            Item("USB-C Charger 65W", 19, 59),
            Item('27" 4K Monitor', 229, 699),
            Item("Mechanical Keyboard", 49, 189),
            Item("Smartwatch", 99, 449),
            Item("Noise-Cancelling Headphones", 89, 399),
            Item("Portable SSD 1TB", 69, 179),
            Item("Webcam 1080p", 29, 119),
        ),
        margin=(0.12, 0.3),
        catalog_share=0.16,
        demand=1.0,
        season=WINTER_HOLIDAYS,
    ),
    CategorySpec(
        name="Fashion",
        slug="fashion",
        sku_prefix="FAS",
        description="Clothing, shoes and accessories.",
        brands=("Marlow & Finch", "Urbanity", "Cobalt Row", "Linden", "Sora"),
        variants=("S", "M", "L", "XL", "Navy", "Olive", "Charcoal"),
        items=(
            Item("Cotton T-Shirt", 12, 35),
            Item("Slim Jeans", 39, 99),
            Item("Wool Sweater", 49, 149),
            Item("Running Shoes", 59, 159),
            Item("Rain Jacket", 69, 199),
            Item("Leather Belt", 19, 59),
            Item("Summer Dress", 29, 89),
            Item("Linen Shirt", 29, 79),
        ),
        margin=(0.45, 0.65),
        catalog_share=0.18,
        demand=1.1,
        season=(0.85, 0.8, 1.0, 1.05, 1.1, 1.1, 1.0, 0.95, 1.05, 1.05, 1.3, 1.6),
        discount_rate=0.2,
    ),
    CategorySpec(
        name="Personal Care",
        slug="personal-care",
        sku_prefix="PER",
        description="Skin care, hair care and grooming.",
        brands=("Verdana Botanics", "Puro", "Halden", "Mira Skin"),
        variants=("50 ml", "100 ml", "200 ml", "Travel size", "Refill"),
        items=(
            Item("Daily Moisturizer", 9, 39),
            Item("Sunscreen SPF 50", 8, 29),
            Item("Electric Toothbrush", 29, 129),
            Item("Shampoo", 5, 19),
            Item("Beard Trimmer", 25, 89),
            Item("Vitamin C Serum", 14, 49),
        ),
        margin=(0.35, 0.6),
        catalog_share=0.12,
        demand=1.3,
        season=(1.0, 0.95, 1.0, 1.05, 1.15, 1.3, 1.3, 1.2, 0.95, 0.9, 0.95, 1.2),
    ),
    CategorySpec(
        name="Toys & Games",
        slug="toys-and-games",
        sku_prefix="TOY",
        description="Toys, board games and puzzles for every age.",
        brands=("Brickfield", "Little Otter", "Gamewright Co", "Puzzlebox"),
        variants=("Classic", "Deluxe", "Junior", "Family Edition"),
        items=(
            Item("Building Blocks Set", 19, 129),
            Item("Board Game", 15, 59),
            Item("1000-Piece Puzzle", 12, 29),
            Item("Remote-Control Car", 25, 99),
            Item("Plush Bear", 9, 35),
            Item("Science Kit", 19, 59),
        ),
        margin=(0.3, 0.5),
        catalog_share=0.1,
        demand=0.9,
        season=(0.55, 0.55, 0.65, 0.7, 0.7, 0.75, 0.8, 0.8, 0.85, 1.0, 1.9, 3.6),
    ),
    CategorySpec(
        name="Home & Kitchen",
        slug="home-and-kitchen",
        sku_prefix="HOM",
        description="Cookware, small appliances and home comfort.",
        brands=("Hearthstone", "Copperleaf", "Norra Home", "Kitchenly"),
        variants=("Stainless", "Matte Black", "White", "Oak"),
        items=(
            Item("Chef's Knife", 29, 129),
            Item("Non-Stick Pan 28 cm", 25, 89),
            Item("Espresso Machine", 149, 599),
            Item("Air Fryer", 69, 199),
            Item("Cotton Bath Towel Set", 25, 69),
            Item("Scented Candle", 9, 29),
            Item("Storage Containers (10)", 19, 45),
        ),
        margin=(0.3, 0.5),
        catalog_share=0.14,
        demand=0.9,
        season=GIFTING,
    ),
    CategorySpec(
        name="Sports & Outdoors",
        slug="sports-and-outdoors",
        sku_prefix="SPO",
        description="Fitness, camping, cycling and water sports.",
        brands=("Summitline", "Tidepool", "Ridgeback", "Pace"),
        variants=("Red", "Green", "Black", "Orange", "Pro"),
        items=(
            Item("Yoga Mat", 19, 69),
            Item("Camping Tent 2P", 89, 299),
            Item("Insulated Water Bottle", 15, 39),
            Item("Cycling Helmet", 39, 149),
            Item("Swim Goggles", 9, 35),
            Item("Adjustable Dumbbells", 79, 299),
        ),
        margin=(0.3, 0.45),
        catalog_share=0.12,
        demand=0.85,
        season=SUMMER,
    ),
    CategorySpec(
        name="Books",
        slug="books",
        sku_prefix="BOO",
        description="Fiction, non-fiction and cookbooks.",
        brands=("Harbor Press", "Quillstone", "Meridian Books"),
        variants=("Paperback", "Hardcover", "Signed Edition"),
        items=(
            Item("Mystery Novel", 9, 24),
            Item("Cookbook", 19, 39),
            Item("Science Fiction Novel", 9, 22),
            Item("Travel Guide", 14, 29),
            Item("Children's Picture Book", 7, 18),
        ),
        margin=(0.2, 0.4),
        catalog_share=0.08,
        demand=1.0,
        season=BACK_TO_SCHOOL,
    ),
    CategorySpec(
        name="Grocery",
        slug="grocery",
        sku_prefix="GRO",
        description="Pantry staples, coffee, tea and snacks.",
        brands=("Good Harvest", "Alpine Roasters", "Casa Oliva", "Meadow"),
        variants=("250 g", "500 g", "1 kg", "Organic", "Pack of 6"),
        items=(
            Item("Ground Coffee", 6, 19),
            Item("Green Tea", 4, 12),
            Item("Extra Virgin Olive Oil", 8, 24),
            Item("Dark Chocolate", 2, 6),
            Item("Granola", 4, 9),
            Item("Pasta", 2, 5),
        ),
        margin=(0.15, 0.3),
        catalog_share=0.1,
        demand=1.8,
        season=(1.0, 0.95, 1.0, 0.95, 0.95, 0.95, 0.9, 0.9, 1.0, 1.0, 1.1, 1.35),
        discount_rate=0.08,
    ),
)

FIRST_NAMES = (
    "Ada", "Amara", "Ben", "Carmen", "Chen", "Diego", "Elena", "Farah", "Grace", "Hiro",
    "Ingrid", "Jonas", "Kofi", "Lena", "Mateo", "Mei", "Nadia", "Omar", "Priya", "Quinn",
    "Rosa", "Sam", "Tariq", "Uma", "Victor", "Wen", "Yara", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Abe", "Baker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova",
    "Jensen", "Kim", "Lopez", "Mensah", "Novak", "Okafor", "Patel", "Rossi", "Silva",
    "Tanaka", "Usman", "Varga", "Walsh", "Xu", "Yilmaz", "Zimmer",
)  # fmt: skip
