using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace AspirePerf.Workforce.Migrations
{
    /// <inheritdoc />
    public partial class InitialSchema : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "occupations",
                columns: table => new
                {
                    id = table.Column<short>(type: "smallint", nullable: false),
                    code = table.Column<string>(type: "text", nullable: false),
                    title = table.Column<string>(type: "text", nullable: false),
                    major_group = table.Column<short>(type: "smallint", nullable: false),
                    skill_level = table.Column<short>(type: "smallint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_occupations", x => x.id);
                    table.UniqueConstraint("ak_occupations_code", x => x.code);
                    table.CheckConstraint("ck_occupations_major_group", "major_group BETWEEN 1 AND 9");
                    table.CheckConstraint("ck_occupations_skill_level", "skill_level BETWEEN 1 AND 4");
                });

            migrationBuilder.CreateTable(
                name: "persons",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false),
                    nationality_group = table.Column<string>(type: "text", nullable: false),
                    gender = table.Column<string>(type: "text", nullable: false),
                    birth_year = table.Column<short>(type: "smallint", nullable: false),
                    education = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_persons", x => x.id);
                    table.CheckConstraint("ck_persons_education", "education IN ('none', 'secondary', 'diploma', 'bachelor', 'master', 'doctorate')");
                    table.CheckConstraint("ck_persons_gender", "gender IN ('female', 'male')");
                    table.CheckConstraint("ck_persons_nationality_group", "nationality_group IN ('citizen', 'expatriate')");
                });

            migrationBuilder.CreateTable(
                name: "regions",
                columns: table => new
                {
                    id = table.Column<short>(type: "smallint", nullable: false),
                    code = table.Column<string>(type: "text", nullable: false),
                    name = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_regions", x => x.id);
                    table.UniqueConstraint("ak_regions_code", x => x.code);
                });

            migrationBuilder.CreateTable(
                name: "sectors",
                columns: table => new
                {
                    id = table.Column<short>(type: "smallint", nullable: false),
                    code = table.Column<string>(type: "text", nullable: false),
                    name = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_sectors", x => x.id);
                    table.UniqueConstraint("ak_sectors_code", x => x.code);
                });

            migrationBuilder.CreateTable(
                name: "seed_markers",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false),
                    version = table.Column<int>(type: "integer", nullable: false),
                    seed = table.Column<int>(type: "integer", nullable: false),
                    scale = table.Column<int>(type: "integer", nullable: false),
                    checksum = table.Column<string>(type: "text", nullable: false),
                    rows = table.Column<long>(type: "bigint", nullable: false),
                    duration_ms = table.Column<double>(type: "double precision", nullable: false),
                    seeded_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_seed_markers", x => x.id);
                    table.CheckConstraint("ck_seed_marker_single_row", "id = 1");
                });

            migrationBuilder.CreateTable(
                name: "employers",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false),
                    name = table.Column<string>(type: "text", nullable: false),
                    sector_id = table.Column<short>(type: "smallint", nullable: false),
                    region_id = table.Column<short>(type: "smallint", nullable: false),
                    size_band = table.Column<string>(type: "text", nullable: false),
                    ownership = table.Column<string>(type: "text", nullable: false),
                    founded_year = table.Column<short>(type: "smallint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_employers", x => x.id);
                    table.CheckConstraint("ck_employers_ownership", "ownership IN ('private', 'public', 'foreign')");
                    table.CheckConstraint("ck_employers_size_band", "size_band IN ('micro', 'small', 'medium', 'large')");
                    table.ForeignKey(
                        name: "fk_employers_regions_region_id",
                        column: x => x.region_id,
                        principalTable: "regions",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_employers_sectors_sector_id",
                        column: x => x.sector_id,
                        principalTable: "sectors",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "employment_spells",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false),
                    person_id = table.Column<int>(type: "integer", nullable: false),
                    employer_id = table.Column<int>(type: "integer", nullable: false),
                    occupation_id = table.Column<short>(type: "smallint", nullable: false),
                    start_date = table.Column<DateOnly>(type: "date", nullable: false),
                    end_date = table.Column<DateOnly>(type: "date", nullable: true),
                    monthly_wage = table.Column<decimal>(type: "numeric(10,2)", precision: 10, scale: 2, nullable: false),
                    contract_type = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_employment_spells", x => x.id);
                    table.CheckConstraint("ck_employment_spells_contract_type", "contract_type IN ('permanent', 'fixed_term', 'part_time', 'temporary')");
                    table.CheckConstraint("ck_employment_spells_dates", "end_date IS NULL OR end_date >= start_date");
                    table.CheckConstraint("ck_employment_spells_wage", "monthly_wage > 0");
                    table.ForeignKey(
                        name: "fk_employment_spells_employers_employer_id",
                        column: x => x.employer_id,
                        principalTable: "employers",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_employment_spells_occupations_occupation_id",
                        column: x => x.occupation_id,
                        principalTable: "occupations",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_employment_spells_persons_person_id",
                        column: x => x.person_id,
                        principalTable: "persons",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "vacancies",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false),
                    employer_id = table.Column<int>(type: "integer", nullable: false),
                    occupation_id = table.Column<short>(type: "smallint", nullable: false),
                    posted_date = table.Column<DateOnly>(type: "date", nullable: false),
                    filled_date = table.Column<DateOnly>(type: "date", nullable: true),
                    offered_wage = table.Column<decimal>(type: "numeric(10,2)", precision: 10, scale: 2, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_vacancies", x => x.id);
                    table.CheckConstraint("ck_vacancies_dates", "filled_date IS NULL OR filled_date >= posted_date");
                    table.ForeignKey(
                        name: "fk_vacancies_employers_employer_id",
                        column: x => x.employer_id,
                        principalTable: "employers",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_vacancies_occupations_occupation_id",
                        column: x => x.occupation_id,
                        principalTable: "occupations",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "employment_spells");

            migrationBuilder.DropTable(
                name: "seed_markers");

            migrationBuilder.DropTable(
                name: "vacancies");

            migrationBuilder.DropTable(
                name: "persons");

            migrationBuilder.DropTable(
                name: "employers");

            migrationBuilder.DropTable(
                name: "occupations");

            migrationBuilder.DropTable(
                name: "regions");

            migrationBuilder.DropTable(
                name: "sectors");
        }
    }
}
