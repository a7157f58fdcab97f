"""Static data for ``flask demo load``: wines, territories, people and word lists.

All producers, venues and people are invented; phone area codes are real US ones so the
generated numbers are valid, and every email domain is a reserved example domain.
"""

from __future__ import annotations

from typing import NamedTuple


class Wine(NamedTuple):
    code: str
    producer: str
    label: str
    varietal: str
    region: str
    vintage: int | None
    price: str  # wholesale price per bottle, USD


class City(NamedTuple):
    name: str
    area_codes: tuple[int, ...]


class TerritorySpec(NamedTuple):
    name: str
    timezone: str
    cities: tuple[City, ...]


class Person(NamedTuple):
    name: str
    email: str
    role: str
    territory: str | None


ADMIN_EMAIL = "admin@decant.example"

TERRITORIES: tuple[TerritorySpec, ...] = (
    TerritorySpec(
        "North",
        "America/Chicago",
        (
            City("Chicago", (312, 773, 872)),
            City("Minneapolis", (612,)),
            City("St. Paul", (651,)),
            City("Milwaukee", (414,)),
            City("Madison", (608,)),
        ),
    ),
    TerritorySpec(
        "East",
        "America/New_York",
        (
            City("New York", (212, 646, 917)),
            City("Brooklyn", (718, 347)),
            City("Boston", (617, 857)),
            City("Philadelphia", (215, 267)),
            City("Washington", (202,)),
        ),
    ),
    TerritorySpec(
        "South",
        "America/Chicago",
        (
            City("Houston", (713, 832)),
            City("Dallas", (214, 469)),
            City("Austin", (512, 737)),
            City("New Orleans", (504,)),
            City("Nashville", (615, 629)),
        ),
    ),
    TerritorySpec(
        "West",
        "America/Los_Angeles",
        (
            City("San Francisco", (415, 628)),
            City("Los Angeles", (213, 310, 323)),
            City("Seattle", (206,)),
            City("Portland", (503, 971)),
            City("San Diego", (619, 858)),
        ),
    ),
)

PEOPLE: tuple[Person, ...] = (
    Person("Jordan Whitaker", ADMIN_EMAIL, "admin", None),
    Person("Elena Marquez", "elena.marquez@decant.example", "manager", None),
    Person("Marcus Lindqvist", "marcus.lindqvist@decant.example", "rep", "North"),
    Person("Priya Raman", "priya.raman@decant.example", "rep", "North"),
    Person("Danielle Okafor", "danielle.okafor@decant.example", "rep", "East"),
    Person("Tom Castellano", "tom.castellano@decant.example", "rep", "East"),
    Person("Hannah Beaumont", "hannah.beaumont@decant.example", "rep", "South"),
    Person("Luis Delgado", "luis.delgado@decant.example", "rep", "South"),
    Person("Grace Yamamoto", "grace.yamamoto@decant.example", "rep", "West"),
    Person("Owen McAllister", "owen.mcallister@decant.example", "rep", "West"),
)

# fmt: off
WINES: tuple[Wine, ...] = (
    Wine("WIL-PN-21", "Arden Hill", "Estate", "Pinot Noir", "Willamette Valley", 2021, "24.00"),
    Wine("WIL-CH-22", "Arden Hill", "Reserve", "Chardonnay", "Willamette Valley", 2022, "28.50"),
    Wine("WIL-PG-23", "Copper Fox Cellars", "Dundee Hills", "Pinot Gris", "Willamette Valley",
         2023, "16.00"),
    Wine("NAP-CS-20", "Halvorsen Family", "Oakville", "Cabernet Sauvignon", "Napa Valley", 2020,
         "68.00"),
    Wine("NAP-CS-19", "Stag Crossing", "Reserve", "Cabernet Sauvignon", "Napa Valley", 2019,
         "112.00"),
    Wine("NAP-SB-23", "Halvorsen Family", "Rutherford", "Sauvignon Blanc", "Napa Valley", 2023,
         "19.50"),
    Wine("SON-PN-22", "Cypress Point", "Coastal Ridge", "Pinot Noir", "Sonoma Coast", 2022,
         "34.00"),
    Wine("SON-ZI-21", "Old Mill Vineyards", "Old Vine", "Zinfandel", "Dry Creek Valley", 2021,
         "22.00"),
    Wine("PAS-SY-21", "Ridgeback Wines", "Adelaida", "Syrah", "Paso Robles", 2021, "26.00"),
    Wine("FLX-RI-22", "Seneca Shore", "Dry", "Riesling", "Finger Lakes", 2022, "15.50"),
    Wine("CVA-ME-20", "Basalt Bluff", "Horse Heaven", "Merlot", "Columbia Valley", 2020, "18.00"),
    Wine("WWA-SY-21", "Blue Mountain Cellars", "Rocks District", "Syrah", "Walla Walla Valley",
         2021, "42.00"),
    Wine("BGN-PN-21", "Domaine Lefèvre-Garnier", "Bourgogne Rouge", "Pinot Noir", "Burgundy",
         2021, "27.00"),
    Wine("BGN-CH-21", "Domaine Lefèvre-Garnier", "Meursault Les Narvaux", "Chardonnay",
         "Burgundy", 2021, "74.00"),
    Wine("CHA-CH-22", "Domaine Raveneau-Baptiste", "Chablis Premier Cru Vaillons", "Chardonnay",
         "Chablis", 2022, "38.00"),
    Wine("SAN-SB-23", "Domaine des Sablons", "Les Caillottes", "Sauvignon Blanc", "Sancerre",
         2023, "29.00"),
    Wine("VOU-CB-22", "Clos de la Mairie", "Sec", "Chenin Blanc", "Vouvray", 2022, "21.00"),
    Wine("BDX-ME-19", "Château Belair-Moulin", "Grand Cru", "Merlot", "Saint-Émilion", 2019,
         "58.00"),
    Wine("BDX-CS-18", "Château Lacoste-Ferrand", "Grand Vin", "Cabernet Sauvignon", "Pauillac",
         2018, "145.00"),
    Wine("BDX-BL-22", "Château Haut-Brisson", "Entre-Deux-Mers", "Sauvignon Blanc", "Bordeaux",
         2022, "13.00"),
    Wine("RHO-GR-22", "Domaine Vidal-Rousset", "Côtes du Rhône", "Grenache", "Rhône Valley", 2022,
         "14.50"),
    Wine("RHO-GR-20", "Domaine du Vieux Mas", "Châteauneuf-du-Pape", "Grenache", "Rhône Valley",
         2020, "62.00"),
    Wine("RHO-SY-20", "Maison Chapuis", "Crozes-Hermitage", "Syrah", "Rhône Valley", 2020, "31.00"),
    Wine("PRO-RO-23", "Château Sainte-Rosaline", "Côtes de Provence", "Rosé", "Provence", 2023,
         "17.00"),
    Wine("CHM-BR-NV", "Maison Delaunay", "Brut Réserve", "Champagne Blend", "Champagne", None,
         "44.00"),
    Wine("CHM-BB-NV", "Maison Delaunay", "Blanc de Blancs", "Chardonnay", "Champagne", None,
         "66.00"),
    Wine("ALS-GW-21", "Domaine Hertzog", "Réserve", "Gewürztraminer", "Alsace", 2021, "23.00"),
    Wine("RIO-TE-19", "Bodegas Ortega Lanz", "Reserva", "Tempranillo", "Rioja", 2019, "21.50"),
    Wine("RIO-TE-15", "Bodegas Ortega Lanz", "Gran Reserva", "Tempranillo", "Rioja", 2015,
         "48.00"),
    Wine("RIB-TE-20", "Viña Campo Alto", "Crianza", "Tempranillo", "Ribera del Duero", 2020,
         "25.00"),
    Wine("RBX-AL-23", "Adega Mar de Ons", "Rías Baixas", "Albariño", "Galicia", 2023, "17.50"),
    Wine("PRI-GA-19", "Celler Costers Negres", "Vi de Vila", "Garnacha", "Priorat", 2019, "46.00"),
    Wine("BAR-NE-19", "Cascina Ferraris", "Barolo", "Nebbiolo", "Piedmont", 2019, "72.00"),
    Wine("BRB-NE-20", "Cascina Ferraris", "Barbaresco", "Nebbiolo", "Piedmont", 2020, "55.00"),
    Wine("PIE-BA-22", "Tenuta San Rocco", "Barbera d'Asti", "Barbera", "Piedmont", 2022, "15.00"),
    Wine("CHI-SG-20", "Castello di Montevarchi", "Chianti Classico Riserva", "Sangiovese",
         "Tuscany", 2020, "29.00"),
    Wine("BRU-SG-18", "Fattoria Poggio Alto", "Brunello di Montalcino", "Sangiovese", "Tuscany",
         2018, "78.00"),
    Wine("VAL-CO-17", "Corte Benedetti", "Amarone della Valpolicella", "Corvina", "Veneto", 2017,
         "64.00"),
    Wine("PRS-GL-NV", "Villa Colbertaldo", "Valdobbiadene Extra Dry", "Glera", "Veneto", None,
         "12.50"),
    Wine("ETN-NM-21", "Tenuta Lavico", "Etna Rosso", "Nerello Mascalese", "Sicily", 2021, "27.50"),
    Wine("MOS-RI-22", "Weingut Kessler-Hahn", "Kabinett", "Riesling", "Mosel", 2022, "22.00"),
    Wine("WAC-GV-22", "Weingut Altmann", "Federspiel", "Grüner Veltliner", "Wachau", 2022,
         "19.00"),
    Wine("DOU-TN-20", "Quinta da Azenha", "Reserva Tinto", "Touriga Nacional", "Douro", 2020,
         "24.00"),
    Wine("MEN-MA-21", "Bodega Sierra Alta", "Uco Valley", "Malbec", "Mendoza", 2021, "16.50"),
    Wine("MAR-SB-23", "Kōwhai Bay", "Wairau", "Sauvignon Blanc", "Marlborough", 2023, "14.00"),
    Wine("BAR-SH-20", "Ironbark Estate", "Old Block", "Shiraz", "Barossa Valley", 2020, "36.00"),
    Wine("MCL-GR-21", "Sandhill Road", "Bush Vine", "Grenache", "McLaren Vale", 2021, "21.00"),
    Wine("STE-CB-22", "Klipdrift Estate", "Old Vine", "Chenin Blanc", "Stellenbosch", 2022,
         "15.00"),
    Wine("MAI-CS-20", "Viña Los Robles", "Alto Maipo", "Cabernet Sauvignon", "Maipo Valley", 2020,
         "18.50"),
)
# fmt: on

# Customer venues: custom_fields["venue_type"] and the share of customers of each kind.
VENUE_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("restaurant", 38),
    ("wine bar", 20),
    ("bottle shop", 30),
    ("hotel", 12),
)

# fmt: off
ADJECTIVES = (
    "Copper", "Golden", "Silver", "Little", "Blue", "Crooked", "Hidden", "Velvet", "Rustic",
    "Salt", "Stone", "Black", "White", "Amber", "Olive", "Cedar", "Juniper", "Saffron",
    "Honey", "Ember", "Harbor", "River", "Lantern", "Iron", "Wild", "Old", "Red", "Green",
    "Twin", "Quiet", "Lucky", "Gilded", "Hollow", "Painted", "Wandering", "Northern", "Sunny",
    "Misty", "Brass", "Willow", "Maple", "Fig", "Sage", "Rosemary", "Thistle", "Clover",
    "Linden", "Birch", "Pine", "Bramble",
)
NOUNS = (
    "Vine", "Barrel", "Cork", "Table", "Hearth", "Pear", "Anchor", "Fox", "Heron", "Oak",
    "Sparrow", "Lantern", "Cellar", "Press", "Kettle", "Grove", "Orchard", "Spoon", "Ladle",
    "Larder", "Pantry", "Mill", "Wharf", "Owl", "Rabbit", "Swan", "Stag", "Hare", "Crow",
    "Bell", "Key", "Door", "Gate", "Bridge", "Lamp", "Fern", "Acorn", "Bee", "Wren", "Finch",
    "Plum", "Quince", "Olive", "Thyme", "Hound", "Fiddle", "Compass", "Ledger", "Candle",
    "Cask",
)
SURNAMES = (
    "Abernathy", "Alvarez", "Bellamy", "Bennett", "Bishop", "Brennan", "Calloway", "Castillo",
    "Chen", "Conti", "Dalton", "Delacroix", "Donnelly", "Esposito", "Fairbanks", "Ferrante",
    "Fitzgerald", "Gallagher", "Greco", "Hale", "Hargrove", "Hawthorne", "Ibarra", "Jensen",
    "Kaplan", "Keller", "Kowalski", "Laurent", "Lombardi", "Lowell", "Maddox", "Marchetti",
    "Mercer", "Moreau", "Nakamura", "Novak", "O'Brien", "Okafor", "Pellegrino", "Prescott",
    "Quinn", "Ramirez", "Rinaldi", "Rossi", "Sandoval", "Schaefer", "Sinclair", "Sorensen",
    "Tanaka", "Thornton", "Valenti", "Vasquez", "Whitfield", "Winslow", "Yilmaz", "Zimmerman",
)
GIVEN_NAMES = (
    "Ada", "Alma", "Amelie", "Beatrice", "Camille", "Clara", "Colette", "Dario", "Eloise",
    "Enzo", "Esme", "Felix", "Giulia", "Hazel", "Iris", "Isabella", "Julien", "Leo", "Lucia",
    "Mabel", "Marcel", "Margot", "Matteo", "Nico", "Nora", "Olive", "Oscar", "Paloma", "Rosa",
    "Sofia", "Theo", "Vera", "Violet", "Greta",
)
STREETS = (
    "Main", "Elm", "Market", "Union", "Mercer", "Vine", "Church", "Pearl", "Hudson", "Lake",
    "King", "Water", "Front", "Canal", "Harbor", "Bank", "Chestnut", "Walnut", "Spring",
    "Grand", "Bay", "Orchard", "Court", "Ferry", "Mill", "Garden", "Bridge", "Park",
)
ITALIAN_WORDS = (
    "Lucca", "Nonna", "Amici", "Sorella", "Pane", "Vino", "Stella", "Luna", "Fiore", "Trevi",
    "Aurora", "Vespa", "Piazza", "Porto", "Volpe", "Cielo", "Sale", "Fumo", "Rosa", "Tavola",
)
FRENCH_WORDS = (
    "Marguerite", "Lapin", "Soleil", "Renard", "Paris", "Lyon", "Provence", "Jardin",
    "Papillon", "Mirabelle", "Rivage", "Cocotte", "Fleur", "Printemps", "Chouette", "Vendange",
)
# fmt: on

# Name patterns per venue type; fields: {adj} {noun} {noun2} {surname} {given} {street}
# {italian} {french} {city}.
NAME_PATTERNS: dict[str, tuple[str, ...]] = {
    "restaurant": (
        "{adj} {noun}",
        "The {adj} {noun}",
        "{surname}'s",
        "{given}'s Kitchen",
        "Bistro {french}",
        "Brasserie {french}",
        "Chez {given}",
        "Trattoria {italian}",
        "Osteria {italian}",
        "{noun} & {noun2}",
        "The {noun} Room",
        "{street} Street Grill",
        "{adj} {noun} Tavern",
        "{surname} & Sons Chophouse",
        "{given} on {street}",
    ),
    "wine bar": (
        "The {noun} Wine Bar",
        "{noun} & Cork",
        "Vin {french}",
        "Enoteca {italian}",
        "{adj} {noun} Wine Bar",
        "The Tasting Room on {street}",
        "{adj} Grape",
        "Bar {given}",
        "The {adj} Cask",
        "{street} Street Wine Bar",
    ),
    "bottle shop": (
        "{street} Street Wine & Spirits",
        "{surname} Fine Wines",
        "{adj} {noun} Bottle Shop",
        "The {noun} Cellar",
        "{city} Wine Merchants",
        "{surname} & {surname2} Wine Co.",
        "The {adj} Bottle",
        "{street} Cellars",
        "{given}'s Bottle Shop",
        "Cork & {noun}",
    ),
    "hotel": (
        "Hotel {surname}",
        "The {surname} Hotel",
        "{adj} {noun} Inn",
        "The {street} House",
        "{city} Grand Hotel",
        "Hotel {french}",
        "The {adj} {noun} Hotel",
        "{street} Lodge",
    ),
}

# Email local parts per venue type ({first}/{last} are a contact's names).
MAILBOXES: dict[str, tuple[str, ...]] = {
    "restaurant": ("{first}", "{first}.{last}", "chef", "beverage", "orders", "info", "gm"),
    "wine bar": ("{first}", "{first}.{last}", "wine", "orders", "hello", "bar"),
    "bottle shop": ("{first}", "{first}.{last}", "buyer", "orders", "shop", "info"),
    "hotel": ("{first}.{last}", "beverage", "purchasing", "fb.director", "sommelier"),
}
# fmt: off
CONTACT_FIRST = (
    "alex", "ana", "ben", "carla", "dan", "diego", "emma", "erin", "gabe", "hugo", "ines",
    "jack", "jade", "kai", "kate", "lena", "liam", "maya", "mia", "nate", "omar", "paula",
    "ravi", "rita", "sam", "sara", "tess", "tom", "uma", "will", "yara", "zoe",
)
# fmt: on

# Shared mailbox providers for venues without their own domain.
SHARED_DOMAINS = ("example.com", "example.net", "example.org")

# custom_fields["preferred_varietal"] values.
# fmt: off
VARIETAL_PREFERENCES = (
    "Pinot Noir", "Chardonnay", "Cabernet Sauvignon", "Sauvignon Blanc", "Riesling", "Syrah",
    "Tempranillo", "Nebbiolo", "Sangiovese", "Grenache", "Rosé", "Champagne", "Malbec",
    "Chenin Blanc", "Albariño",
)
# fmt: on

EMAIL_SUBJECTS = (
    "New arrivals from the Rhône",
    "Your spring allocation",
    "Tasting notes for the Barolo",
    "Holiday ordering deadlines",
    "Price update for next quarter",
    "Follow-up from Tuesday's tasting",
)
SMS_REPLIES = (
    "Can you hold two cases of the Rioja for Friday?",
    "Running low on the house red, please call me.",
    "Thanks! Delivery came in this morning.",
    "Any more of the Sancerre coming in?",
    "We'd love samples of the new Pinot for the staff tasting.",
)
NOTES = (
    "Met with the beverage director; wants a by-the-glass program for summer.",
    "Asked about Italian reds under $20 wholesale.",
    "New chef starting next month, revisit the list then.",
    "Prefers deliveries before 11am, use the back entrance.",
    "Interested in a staff training session on Burgundy.",
    "Wine club members love the Austrian whites.",
)
CALL_NOTES = (
    "Quarterly check-in call.",
    "Called about a late delivery; credited one case.",
    "Discussed the holiday allocation.",
)
