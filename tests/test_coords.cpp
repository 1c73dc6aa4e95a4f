// io/coords: our CSV and CLAM's patch HDF5 files (written here with the HDF5 C API, and one made by
// h5py in CLAM's layout: scripts/make_coords_fixture.py), and every refusal naming the file.
#include <hdf5.h>

#include "io/coords.h"
#include "slide_testing.h"

namespace {
using namespace hipt;
namespace ht = hipt::testing;
using io::Point;
using io::RegionCoords;

std::vector<Point> points(std::initializer_list<std::pair<int64_t, int64_t>> xy) {
  std::vector<Point> out;
  for (auto [x, y] : xy) out.push_back({x, y});
  return out;
}

TEST(CoordsCsv, ReadsOurTilesOutputWindowsLineEndsAndABom) {
  const std::string csv = ht::temp_path("coords_ok.csv");
  ht::write_bytes(csv, "x,y\n0,0\n4096,-8\n\n+12,9000000000\n");
  RegionCoords r = io::read_region_coords(csv);
  EXPECT_EQ(r.coords, points({{0, 0}, {4096, -8}, {12, 9000000000}}));
  EXPECT_TRUE(r.attributes.empty());
  ht::write_bytes(csv, "\xEF\xBB\xBFx,y\r\n5,6\r\n");
  EXPECT_EQ(io::read_region_coords(csv).coords, points({{5, 6}}));
  ht::write_bytes(csv, "x,y\n");  // a slide without tissue
  EXPECT_TRUE(io::read_region_coords(csv).coords.empty());
  // The extension decides, in any case.
  const std::string upper = ht::temp_path("coords_upper.CSV");
  ht::write_bytes(upper, "x,y\n1,2\n");
  EXPECT_EQ(io::read_region_coords(upper).coords, points({{1, 2}}));
}

TEST(CoordsCsv, WrittenListsReadBackUnchanged) {
  const std::string csv = ht::temp_path("coords_written.csv");
  const std::vector<Point> regions = points({{0, 0}, {4096, -8}, {12, 9000000000}});
  io::write_region_coords_csv(csv, regions);
  EXPECT_EQ(ht::read_bytes(csv), "x,y\n0,0\n4096,-8\n12,9000000000\n");
  EXPECT_EQ(io::read_region_coords(csv).coords, regions);
  io::write_region_coords_csv(csv, {});
  EXPECT_TRUE(io::read_region_coords(csv).coords.empty());
  const std::string blocker = ht::temp_path("coords_blocker");  // a file where the folder should be
  ht::write_bytes(blocker, "x");
  ht::expect_error([&] { io::write_region_coords_csv(blocker + "/c.csv", {}); }, {blocker + "/c.csv"});
}

TEST(CoordsCsv, BadFilesNameTheFileAndLine) {
  const std::string csv = ht::temp_path("coords_bad.csv");
  struct Case {
    std::string content, says;
  } cases[] = {{"", "empty file"},
               {"y,x\n1,2\n", ":1: the header must be 'x,y', got 'y,x'"},
               {"x,y,z\n1,2,3\n", ":1: the header must be 'x,y'"},
               {"x,y\n1,2\n3,abc\n", ":3: expected two integers 'x,y', got '3,abc'"},
               {"x,y\n1,2,3\n", ":2: expected two integers"},
               {"x,y\n1;2\n", ":2: expected two integers"},
               {"x,y\n1.5,2\n", ":2:"},
               {"x,y\n1,\n", ":2:"},
               {"x,y\n 1,2\n", ":2:"},
               {"x,y\n99999999999999999999,1\n", ":2:"}};
  for (const Case& c : cases) {
    ht::write_bytes(csv, c.content);
    ht::expect_error([&] { io::read_region_coords(csv); }, {csv, c.says});
  }
  ht::expect_error([&] { io::read_region_coords(ht::temp_path("coords_missing.csv")); },
                   {"coords_missing.csv", "cannot open"});
  ht::expect_error([&] { io::read_region_coords(ht::temp_path("coords.txt")); },
                   {"coords.txt", "unknown coordinates format '.txt'"});
  ht::expect_error([&] { io::read_region_coords(ht::temp_path("coords_no_extension")); }, {"unknown coordinates format"});
}

// --- HDF5 files written with the C API -------------------------------------------------------

void write_attribute(hid_t obj, const char* name, hid_t type, int rank, hsize_t n, const void* data) {
  hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr);
  hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(H5Awrite(a, type, data), 0) << name;
  H5Aclose(a);
  H5Sclose(space);
}

// CLAM's layout: `coords` [M, 2] of `type`, chunked (1, 2), maxshape (None, 2), its attributes.
void write_clam_h5(const std::string& path, const std::vector<int64_t>& xy, hid_t file_type = H5T_STD_I64LE) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hsize_t dims[2] = {xy.size() / 2, 2}, maxdims[2] = {H5S_UNLIMITED, 2}, chunk[2] = {1, 2};
  hid_t space = H5Screate_simple(2, dims, maxdims), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 2, chunk);
  hid_t d = H5Dcreate2(f, "coords", file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  ASSERT_GE(d, 0);
  if (!xy.empty()) {
    ASSERT_GE(H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, xy.data()), 0);
  }
  int64_t patch_size = 4096, level = 0, dims0[2] = {46000, 32914};
  double downsample[2] = {1.0, 1.0};
  write_attribute(d, "patch_size", H5T_STD_I64LE, 0, 1, &patch_size);
  write_attribute(d, "patch_level", H5T_STD_I64LE, 0, 1, &level);
  write_attribute(d, "downsample", H5T_IEEE_F64LE, 1, 2, downsample);
  write_attribute(d, "level_dim", H5T_STD_I64LE, 1, 2, dims0);
  hid_t vstr = H5Tcopy(H5T_C_S1);  // h5py's str: variable length, UTF-8
  H5Tset_size(vstr, H5T_VARIABLE);
  H5Tset_cset(vstr, H5T_CSET_UTF8);
  const char* name = "slide-\xc3\xa9";
  write_attribute(d, "name", vstr, 0, 1, &name);
  hid_t fstr = H5Tcopy(H5T_C_S1);  // numpy's bytes_: fixed length, NUL padded
  H5Tset_size(fstr, 8);
  H5Tset_strpad(fstr, H5T_STR_NULLPAD);
  const char fixed[8] = {'f', 'i', 'x', 'e', 'd', 0, 0, 0};
  write_attribute(d, "fixed_text", fstr, 0, 1, fixed);
  int64_t matrix[4] = {1, 2, 3, 4};  // 2-D: not text-worthy, left out
  hsize_t mdims[2] = {2, 2};
  hid_t mspace = H5Screate_simple(2, mdims, nullptr);
  hid_t ma = H5Acreate2(d, "matrix", H5T_STD_I64LE, mspace, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(ma, H5T_NATIVE_INT64, matrix);
  for (hid_t t : {vstr, fstr}) H5Tclose(t);
  H5Aclose(ma);
  H5Sclose(mspace);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Fclose(f);
}

// One dataset `name` of `type` with the given dims, zero-filled; optionally a group instead.
void write_h5_dataset(const std::string& path, const char* name, hid_t type, std::vector<hsize_t> dims,
                      bool as_group = false) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  if (as_group) {
    H5Gclose(H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  } else {
    hid_t space = dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    H5Dclose(H5Dcreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Sclose(space);
  }
  H5Fclose(f);
}

// Open HDF5 objects of every file: the reader must close all of them, on every path.
ssize_t open_hdf5_objects() { return H5Fget_obj_count(static_cast<hid_t>(H5F_OBJ_ALL), H5F_OBJ_ALL); }

TEST(CoordsHdf5, ReadsClamsLayoutWithItsAttributesAsText) {
  const std::string h5 = ht::temp_path("coords_clam.h5");
  write_clam_h5(h5, {0, 0, 4096, 0, 8192, 4096});
  RegionCoords r = io::read_region_coords(h5);
  EXPECT_EQ(r.coords, points({{0, 0}, {4096, 0}, {8192, 4096}}));
  std::map<std::string, std::string> want = {{"patch_size", "4096"},         {"patch_level", "0"},
                                             {"downsample", "[1, 1]"},       {"level_dim", "[46000, 32914]"},
                                             {"name", "slide-\xc3\xa9"},     {"fixed_text", "fixed"}};
  EXPECT_EQ(r.attributes, want);
  // CLAM's older bag writer stores int32 coordinates; any integer type reads.
  write_clam_h5(h5, {7, 8}, H5T_STD_I32BE);
  EXPECT_EQ(io::read_region_coords(h5).coords, points({{7, 8}}));
  write_clam_h5(h5, {7, 8}, H5T_STD_U16LE);
  EXPECT_EQ(io::read_region_coords(h5).coords, points({{7, 8}}));
  write_clam_h5(h5, {});  // M = 0: a slide without tissue
  EXPECT_TRUE(io::read_region_coords(h5).coords.empty());
  EXPECT_EQ(open_hdf5_objects(), 0);
}

TEST(CoordsHdf5, BadFilesAreOneErrorNamingTheFileAndLeakNoHandles) {
  const std::string h5 = ht::temp_path("coords_bad.h5");
  ht::expect_error([&] { io::read_region_coords(ht::temp_path("coords_missing.h5")); },
                   {"coords_missing.h5", "cannot open"});
  ht::write_bytes(h5, "x,y\n1,2\n");
  ht::expect_error([&] { io::read_region_coords(h5); }, {h5, "not an HDF5 file"});
  write_h5_dataset(h5, "imgs", H5T_STD_U8LE, {1, 4, 4, 3});
  ht::expect_error([&] { io::read_region_coords(h5); }, {h5, "no dataset 'coords'"});
  write_h5_dataset(h5, "coords", 0, {}, /*as_group=*/true);
  ht::expect_error([&] { io::read_region_coords(h5); }, {h5, "'coords' is not a dataset"});
  write_h5_dataset(h5, "coords", H5T_STD_I64LE, {6});
  ht::expect_error([&] { io::read_region_coords(h5); }, {h5, "must have shape [M, 2], got rank 1"});
  write_h5_dataset(h5, "coords", H5T_STD_I64LE, {});
  ht::expect_error([&] { io::read_region_coords(h5); }, {h5, "got rank 0"});
  write_h5_dataset(h5, "coords", H5T_STD_I64LE, {3, 3});
  ht::expect_error([&] { io::read_region_coords(h5); }, {h5, "got rank 2 with shape [3, 3]"});
  write_h5_dataset(h5, "coords", H5T_IEEE_F32LE, {3, 2});
  ht::expect_error([&] { io::read_region_coords(h5); }, {h5, "must hold integers"});
  // A file cut short: the superblock's end-of-file address is past the end.
  write_clam_h5(h5, std::vector<int64_t>(2000, 7));
  std::string bytes = ht::read_bytes(h5);
  ht::write_bytes(h5, bytes.substr(0, bytes.size() / 2));
  ht::expect_error([&] { io::read_region_coords(h5); }, {h5});
  EXPECT_EQ(open_hdf5_objects(), 0);
}

// A file made by h5py exactly as CLAM's save_hdf5 makes it, two contours appended.
TEST(CoordsHdf5, ReadsTheH5pyFixtureInClamsLayout) {
  RegionCoords r = io::read_region_coords(std::string(HIPT_TEST_DATA) + "/coords/clam_patches.h5");
  EXPECT_EQ(r.coords, points({{0, 0}, {4096, 0}, {0, 4096}, {12288, 8192}, {16384, 8192}}));
  std::map<std::string, std::string> want = {{"patch_size", "4096"},
                                             {"patch_level", "0"},
                                             {"downsample", "[1, 1]"},
                                             {"downsampled_level_dim", "[46000, 32914]"},
                                             {"level_dim", "[46000, 32914]"},
                                             {"name", "fixture-slide"},
                                             {"save_path", "RESULTS_DIRECTORY/patches"}};
  EXPECT_EQ(r.attributes, want);
}

// Found by fuzz_coords_h5: one byte of the fixture's metadata changed (offset 4036, 0 -> 0x65)
// makes libhdf5 1.10.8 ask malloc for about 435 GB. Outside the sanitizers that malloc fails,
// libhdf5 reports an error, and the reader turns it into one hipt::Error naming the file.
TEST(CoordsHdf5, ACorruptMetadataSizeIsAnErrorNotACrash) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizers' allocators abort on libhdf5's 435 GB request instead of failing it";
#else
  std::string bytes = ht::read_bytes(std::string(HIPT_TEST_DATA) + "/coords/clam_patches.h5");
  ASSERT_EQ(bytes.at(4036), '\0');
  bytes[4036] = 0x65;
  const std::string h5 = ht::temp_path("coords_corrupt_size.h5");
  ht::write_bytes(h5, bytes);
  ht::expect_error([&] { io::read_region_coords(h5); }, {h5});
  EXPECT_EQ(open_hdf5_objects(), 0);
#endif
}

}  // namespace
