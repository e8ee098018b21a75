"""Vocabulary of the demo company: Brazilian names, streets and the company's regions.

Emails use the reserved ``example.*`` domains, so a demo can never write to
a real mailbox.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Ana", "Beatriz", "Bruna", "Camila", "Carla", "Daniela", "Eduarda", "Fernanda", "Gabriela",
    "Helena", "Isabela", "Juliana", "Larissa", "Letícia", "Luana", "Mariana", "Natália", "Patrícia",
    "Renata", "Sofia", "Tatiane", "Vitória", "Aline", "Cláudia", "Débora", "Raquel", "Sandra",
    "Adriano", "André", "Antônio", "Bruno", "Carlos", "Daniel", "Diego", "Eduardo", "Felipe",
    "Fernando", "Gabriel", "Gustavo", "Henrique", "João", "José", "Leonardo", "Lucas", "Luiz",
    "Marcelo", "Marcos", "Mateus", "Paulo", "Pedro", "Rafael", "Ricardo", "Rodrigo", "Thiago",
    "Vinícius", "Wagner", "Sérgio", "Otávio", "Caio", "Fábio",
)

SURNAMES = (
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima",
    "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares", "Fernandes",
    "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade", "Moreira", "Nunes", "Marques",
    "Machado", "Mendes", "Freitas", "Cardoso", "Ramos", "Gonçalves", "Santana", "Teixeira",
    "Araújo", "Monteiro", "Moura", "Correia", "Pinto", "Cavalcanti", "Batista", "Campos",
)

COMPANY_SUFFIXES = ("Ltda.", "ME", "EIRELI", "S.A.")
COMPANY_KINDS = ("Padaria", "Restaurante", "Farmácia", "Clínica", "Mercado", "Escritório",
                 "Academia", "Hotel", "Escola", "Oficina", "Condomínio", "Loja")

STREET_KINDS = ("Rua", "Rua", "Rua", "Avenida", "Alameda", "Travessa")
STREET_NAMES = (
    "das Flores", "Sete de Setembro", "Quinze de Novembro", "XV de Agosto", "Tiradentes",
    "Dom Pedro II", "Santos Dumont", "Rui Barbosa", "Marechal Deodoro", "Getúlio Vargas",
    "Paulista", "Brigadeiro Faria Lima", "Consolação", "Augusta", "dos Bandeirantes",
    "Vergueiro", "Domingos de Morais", "Ipiranga", "São João", "Teodoro Sampaio", "Cardeal Arcoverde",
    "Pamplona", "Haddock Lobo", "Oscar Freire", "Vinte e Três de Maio", "Jabaquara", "Santo Amaro",
    "Cruzeiro do Sul", "Voluntários da Pátria", "Celso Garcia", "Sapopemba", "Aricanduva",
)

# region -> (districts, city, state, postal-code prefix)
REGIONS: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "sp-centro": (("Sé", "República", "Bela Vista", "Consolação", "Liberdade"), "São Paulo", "SP", "010"),
    "sp-zona-sul": (("Vila Mariana", "Moema", "Saúde", "Jabaquara", "Santo Amaro"), "São Paulo", "SP", "041"),
    "sp-zona-oeste": (("Pinheiros", "Lapa", "Perdizes", "Butantã", "Vila Leopoldina"), "São Paulo", "SP",
                      "054"),
    "sp-zona-norte": (("Santana", "Tucuruvi", "Casa Verde", "Vila Guilherme", "Mandaqui"), "São Paulo",
                      "SP", "020"),
    "sp-zona-leste": (("Tatuapé", "Mooca", "Penha", "Itaquera", "Vila Formosa"), "São Paulo", "SP", "031"),
    "abc": (("Centro", "Jardim", "Rudge Ramos", "Vila Assunção", "Campestre"), "Santo André", "SP", "090"),
}

SKILLS = ("eletrica", "hidraulica", "ar_condicionado", "refrigeracao", "gas", "redes")

JOBS: dict[str, tuple[str, ...]] = {
    "eletrica": ("Troca de disjuntor", "Instalação de tomadas", "Revisão do quadro elétrico",
                 "Curto-circuito na cozinha"),
    "hidraulica": ("Vazamento na pia", "Troca de registro", "Desentupimento", "Instalação de aquecedor"),
    "ar_condicionado": ("Instalação de split 12.000 BTU", "Limpeza de ar-condicionado",
                        "Ar-condicionado não gela"),
    "refrigeracao": ("Câmara fria com alarme", "Manutenção de freezer", "Balcão refrigerado parado"),
    "gas": ("Troca de mangueira de gás", "Teste de estanqueidade", "Conversão de fogão para GN"),
    "redes": ("Cabeamento estruturado", "Roteador sem sinal", "Instalação de câmeras"),
}

EMAIL_DOMAINS = ("example.com", "example.net", "example.org")

PAYMENT_METHODS_WEIGHTED = ("pix", "pix", "pix", "boleto", "boleto", "credit_card", "debit_card",
                            "transfer")
